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
import time
from collections.abc import Callable
from functools import partial

import torch

from agents.collect import collect_rollout, start_collection, to_tensor
from envs.text_gen import TextGenVectorEnv
from rlhf_text.policy import TokenActorCritic
from rlhf_text.tiny import TinyModelConfig, tiny_causal_lm, train_tokenizer

PROMPTS = [
    "Human: How do I keep basil alive indoors? Assistant:",
    "Human: What is a good way to start running? Assistant:",
    "Human: Why is the sky blue? Assistant:",
    "Human: How should I store fresh bread? Assistant:",
]


def response_length(prompts: list[str], responses: list[str]) -> list[float]:
    return [float(len(response.split())) for response in responses]


def interleaved_best(runs: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Best seconds of each run, the runs taking turns (load changes hit all alike); the
    first round warms up and is not counted."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(repeats + 1):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            if repeat:
                times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], new_tokens: int) -> None:
    inputs = tokenizer(prompts, return_tensors="pt", padding=True)
    model.generate(**inputs, do_sample=True, top_k=0, max_new_tokens=new_tokens,
                   eos_token_id=None, pad_token_id=tokenizer.pad_token_id)  # fmt: skip


def env_loop(env: TextGenVectorEnv, policy, prompts: list[str], new_tokens: int) -> None:
    obs, _ = env.reset(options={"prompts": prompts})
    state = None
    for _ in range(new_tokens):
        out = policy.act(to_tensor(obs), state)
        state = out.state
        obs, *_ = env.step(out.actions.numpy())


def collect(env: TextGenVectorEnv, policy, new_tokens: int) -> None:
    state = start_collection(env, seed=None)
    collect_rollout(env, policy, new_tokens, state, keep_observations="first_step")


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
    torch.set_num_threads(args.threads)
    tokenizer = train_tokenizer(PROMPTS * 40, vocab_size=2048, min_frequency=1)
    model = tiny_causal_lm(tokenizer, TinyModelConfig(n_layer=4, n_embd=256, n_head=4))
    policy = TokenActorCritic(model).eval()
    n = args.new_tokens
    print(f"{n} new tokens per row, torch threads {args.threads}, best of {args.repeats}\n")
    print("| batch | collect / generate | env loop / generate | policy act | critic pass | rest |")
    print("|---:|---:|---:|---:|---:|---:|")
    for batch_size in args.batch_sizes:
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(batch_size)]
        env = TextGenVectorEnv(
            batch_size, tokenizer, prompts, response_length, max_prompt_len=48,
            max_new_tokens=n, stop_token_ids=[],
        )  # fmt: skip
        env.reset(seed=0)
        seconds = interleaved_best(
            {
                "generate": partial(generate, model, tokenizer, prompts, n),
                "env_loop": partial(env_loop, env, policy, prompts, n),
                "collect": partial(collect, env, policy, n),
            },
            args.repeats,
        )
        profile = cProfile.Profile()
        profile.runcall(collect, env, policy, n)
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
