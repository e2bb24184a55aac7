"""Tokens per second of the env-driven text rollout against ``model.generate``; prints a table.

The same model, prompts, batch and sampling on both sides, in one process, interleaved, best
of ``--repeats``:

- ``generate``: ``model.generate(do_sample=True, max_new_tokens=N)`` with its KV cache;
- ``env loop``: ``TextGenVectorEnv`` stepped token by token by ``TokenActorCritic.act``
  (the KV cache is the policy's state; each step feeds one token and also returns the
  token's log-probability, which ``generate`` does not compute);
- ``collect_rollout``: the loop above through the shared core's ``collect_rollout`` (what PPO
  runs), which adds the bookkeeping and the values. ``--critic shared`` (the default): a
  value head on the actor reads each step's hidden state, so the values cost no pass of
  their own. ``--critic separate``: a critic of the actor's size (DeepSpeed-Chat's layout)
  reads the whole rollout in one pass at the end; the last column gives that pass's share.

Stop tokens are off on both sides so every row makes exactly N tokens and the counts agree.
The reward is a cheap rule (response length): scoring is not what is measured here.

    .venv/bin/python benchmarks/text_rollout_speed.py [--model DIR] [--batch-sizes 1 8 64]
        [--critic shared|separate]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from rlhf_text.policy import TokenActorCritic
from rlhf_text.rollout_bench import (
    PROMPTS,
    load_models,
    make_env,
    time_collect,
    time_env_loop,
    time_generate,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a causal LM directory (default: tiny)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--critic", choices=["shared", "separate"], default="shared",
        help="a value head on the actor, or a critic model of the actor's size",
    )  # fmt: skip
    args = parser.parse_args()
    tokenizer, model, critic = load_models(args.model, args.threads, args.critic == "separate")
    policy = TokenActorCritic(model, critic).eval()
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(
        f"model {args.model or 'tiny GPT-2 (4 x 256)'} ({params:.1f} M parameters), "
        f"{args.critic} critic, {args.new_tokens} new tokens per row, torch threads "
        f"{args.threads}, best of {args.repeats}\n"
    )
    print("| batch | generate tok/s | env loop tok/s | collect_rollout tok/s "
          "| env loop / generate | collect / generate | critic pass in collect |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for batch_size in args.batch_sizes:
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(batch_size)]
        env = make_env(tokenizer, prompts, args.new_tokens)
        times: dict[str, list[float]] = {"generate": [], "env": [], "collect": []}
        critic_share = []
        for repeat in range(args.repeats + 1):  # the first round warms up, not counted
            torch.manual_seed(repeat)
            collect_seconds, critic_seconds = time_collect(env, policy, args.new_tokens)
            rounds = {
                "generate": time_generate(model, tokenizer, prompts, args.new_tokens),
                "env": time_env_loop(env, policy, prompts, args.new_tokens),
                "collect": collect_seconds,
            }
            if repeat:
                for key, seconds in rounds.items():
                    times[key].append(seconds)
                critic_share.append(critic_seconds / collect_seconds)
        tokens = batch_size * args.new_tokens
        rate = {key: tokens / min(values) for key, values in times.items()}
        print(
            f"| {batch_size} | {rate['generate']:,.0f} | {rate['env']:,.0f} | "
            f"{rate['collect']:,.0f} | {rate['env'] / rate['generate']:.2f}x | "
            f"{rate['collect'] / rate['generate']:.2f}x | {np.median(critic_share):.0%} |"
        )


if __name__ == "__main__":
    main()
