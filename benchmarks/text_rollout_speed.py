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
import time

import numpy as np
import torch

from agents.collect import collect_rollout, start_collection, to_tensor
from envs.text_gen import TextGenVectorEnv
from rlhf_text.policy import TokenActorCritic
from rlhf_text.tiny import TinyModelConfig, tiny_causal_lm, tiny_value_model, train_tokenizer

PROMPTS = [
    "Human: How do I keep basil alive indoors? Assistant:",
    "Human: What is a good way to start running? Assistant:",
    "Human: Why is the sky blue? Assistant:",
    "Human: How should I store fresh bread? Assistant:",
    "Human: What does a compiler do? Assistant:",
    "Human: How can I save money on groceries? Assistant:",
    "Human: What is the capital of Japan? Assistant:",
    "Human: How often should I water a cactus? Assistant:",
]


def response_length(prompts: list[str], responses: list[str]) -> list[float]:
    return [float(len(r.split())) for r in responses]


def load_models(path: str | None, threads: int, separate_critic: bool):
    """Tokenizer, actor, and a critic of the same architecture (None for a shared head)."""
    torch.set_num_threads(threads)
    if path:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from rlhf_text.models import ModelConfig, load_value_model

        tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(path).eval()
        critic = None
        if separate_critic:
            critic = load_value_model(ModelConfig(name_or_path=path), tokenizer).eval()
        return tokenizer, model, critic
    tokenizer = train_tokenizer(PROMPTS * 20, vocab_size=2048, min_frequency=1)
    tiny = TinyModelConfig(n_layer=4, n_embd=256, n_head=4)
    critic = tiny_value_model(tokenizer, tiny).eval() if separate_critic else None
    return tokenizer, tiny_causal_lm(tokenizer, tiny), critic


def make_env(tokenizer, prompts: list[str], new_tokens: int) -> TextGenVectorEnv:
    """The text env over ``prompts`` (one row each), stop tokens off, reset once."""
    env = TextGenVectorEnv(
        len(prompts), tokenizer, prompts, response_length, max_prompt_len=48,
        max_new_tokens=new_tokens, stop_token_ids=[],
    )  # fmt: skip
    env.reset(seed=0)
    return env


def time_generate(model, tokenizer, prompts: list[str], new_tokens: int) -> float:
    inputs = tokenizer(prompts, return_tensors="pt", padding=True)
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(
            **inputs, do_sample=True, top_k=0, max_new_tokens=new_tokens,
            eos_token_id=None, pad_token_id=tokenizer.pad_token_id,
        )  # fmt: skip
    seconds = time.perf_counter() - start
    assert out.shape[1] - inputs["input_ids"].shape[1] == new_tokens
    return seconds


def time_env_loop(env: TextGenVectorEnv, policy, prompts: list[str], new_tokens: int) -> float:
    start = time.perf_counter()
    obs, _ = env.reset(options={"prompts": prompts})
    state = None
    for _ in range(new_tokens):
        out = policy.act(to_tensor(obs), state)
        state = out.state
        obs, *_ = env.step(out.actions.numpy())
    return time.perf_counter() - start


def time_collect(env: TextGenVectorEnv, policy, new_tokens: int) -> tuple[float, float]:
    """Seconds of the whole ``collect_rollout`` and of its one critic pass within it (0 with
    a shared value head: there is none)."""
    critic_seconds = [0.0]
    rollout_values = policy.rollout_values

    def timed_rollout_values(batch):
        start = time.perf_counter()
        out = rollout_values(batch)
        critic_seconds.append(time.perf_counter() - start)
        return out

    policy.rollout_values = timed_rollout_values
    start = time.perf_counter()
    state = start_collection(env, seed=None)
    batch, _, _ = collect_rollout(env, policy, new_tokens, state, keep_observations="first_step")
    seconds = time.perf_counter() - start
    del policy.rollout_values
    assert batch.shape[1] == new_tokens
    return seconds, critic_seconds[-1]


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
