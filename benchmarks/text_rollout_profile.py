"""Where ``collect_rollout``'s time goes, against ``model.generate``; prints a table.

The setting of ``benchmarks/text_rollout_speed.py`` (a 4-layer, 256-wide GPT-2 with a shared
trunk, stop tokens off, a cheap rule reward): for each batch size, ``generate``, the env loop
(``TextGenVectorEnv`` stepped by ``TokenActorCritic.act``) and ``collect_rollout`` are timed
(best of ``--repeats``, taking turns, after a warm-up round), then one ``collect_rollout``
runs under cProfile and its time is split into the policy's ``act`` calls, the critic pass
(``rollout_values``: none here, since the value head on the actor reads each step's hidden
state inside ``act``) and the rest (env steps, bookkeeping).

    .venv/bin/python benchmarks/text_rollout_profile.py [--batch-sizes 1 8 64] [--top 0]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from collections.abc import Callable
from functools import partial

from rlhf_text.policy import TokenActorCritic
from rlhf_text.rollout_bench import (  # text_rollout_speed.py's setting
    PROMPTS,
    load_models,
    make_env,
    time_collect,
    time_env_loop,
    time_generate,
)


def interleaved_best(runs: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """Best seconds of each timed run, the runs taking turns (load changes hit all alike);
    the first round warms up and is not counted."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(repeats + 1):
        for name, run in runs.items():
            seconds = run()
            if repeat:
                times[name].append(seconds)
    return {name: min(values) for name, values in times.items()}


def cumulative(stats: pstats.Stats, module: str, function: str) -> float:
    """Cumulative seconds of ``function`` defined in a file named ``module``."""
    for (path, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
        if path.endswith(f"/{module}") and name == function:
            return row[3]
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--top", type=int, default=0, help="also print cProfile's top N")
    args = parser.parse_args()
    tokenizer, model, _ = load_models(None, args.threads, separate_critic=False)
    policy = TokenActorCritic(model).eval()
    n = args.new_tokens
    print(f"{n} new tokens per row, torch threads {args.threads}, best of {args.repeats}\n")
    print("| batch | collect / generate | env loop / generate | policy act | critic pass | rest |")
    print("|---:|---:|---:|---:|---:|---:|")
    for batch_size in args.batch_sizes:
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(batch_size)]
        env = make_env(tokenizer, prompts, n)
        seconds = interleaved_best(
            {
                "generate": partial(time_generate, model, tokenizer, prompts, n),
                "env_loop": partial(time_env_loop, env, policy, prompts, n),
                "collect": lambda: time_collect(env, policy, n)[0],  # noqa: B023 (called here)
            },
            args.repeats,
        )
        profile = cProfile.Profile()
        profile.runcall(time_collect, env, policy, n)
        stats = pstats.Stats(profile)
        total = cumulative(stats, "collect.py", "collect_rollout")
        act = cumulative(stats, "policy.py", "act")
        critic = cumulative(stats, "policy.py", "rollout_values")
        print(
            f"| {batch_size} | {seconds['generate'] / seconds['collect']:.2f}x "
            f"| {seconds['generate'] / seconds['env_loop']:.2f}x | {act / total:.0%} "
            f"| {critic / total:.0%} | {(total - act - critic) / total:.0%} |",
            flush=True,
        )
        if args.top:
            stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
