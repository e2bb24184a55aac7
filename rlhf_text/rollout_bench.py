"""What both text rollout benchmarks share: their model, prompts, env and timers.

``benchmarks/text_rollout_speed.py`` prints tokens per second of ``collect_rollout``, the
env loop and ``model.generate`` side by side; ``benchmarks/text_rollout_profile.py`` profiles
the same setting. Stop tokens are off, so every row makes exactly N tokens, and the reward is
a cheap rule (response length): scoring is not what they measure.
"""

from __future__ import annotations

import time

import torch

from agents.collect import collect_rollout, start_collection, to_tensor
from envs.text_gen import TextGenVectorEnv
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
