"""Step 1, supervised fine-tuning: a causal LM learns to write the chosen responses.

DeepSpeed-Chat's step 1 on prompt + chosen rows: next-token cross-entropy on the response
tokens (``loss_on="response"``, the prompt tokens get label -100) or on every token
(``"full"``, as DeepSpeed-Chat does). EOS is appended to each response so the model learns to
stop. The prompt is tokenised on its own with the tokenizer's special tokens, as the text env
tokenises PPO prompts, and the response on its own without them, as the policy produces it
token by token; the two are then fitted to ``max_len`` by ``rlhf_text.data.fit_to_length``.

Evaluation is the perplexity of the held-out rows' labelled tokens, ``exp`` of the mean
token negative log-likelihood, before training, every ``eval_every`` steps and after.

Run it with ``run_sft(SFTConfig(...))``; see :mod:`rlhf_text.training` for checkpoints,
resumption and the output directory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from rlhf_text.data import PreferencePair, fit_to_length, load_preference_data
from rlhf_text.engine import TrainEngine
from rlhf_text.models import load_causal_lm
from rlhf_text.training import (
    IGNORE_INDEX,
    TrainingConfig,
    check_model_length,
    pad_right,
    run_device,
    run_tokenizer,
    scheduled_steps,
    seed_everything,
    train_loop,
)


@dataclass
class SFTConfig(TrainingConfig):
    """Step 1: fine-tune a causal LM on prompt + chosen response."""

    epochs: int = 3
    """passes over the training rows (a tiny model from scratch needs a few)"""
    run_dir: str = "runs/sft"
    """where the model, config.yaml, tb/ and checkpoint/ go"""
    loss_on: Literal["response", "full"] = "response"
    """'response': loss on the response tokens and EOS only; 'full': on every token"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.loss_on not in ("response", "full"):
            raise ValueError(f"loss_on must be 'response' or 'full', got {self.loss_on!r}")


class SFTExample(NamedTuple):
    """One tokenised training text."""

    input_ids: list[int]
    """prompt tokens then response tokens (and EOS unless cut)"""
    labels: list[int]
    """``input_ids`` with the positions that carry no loss set to -100"""


def sft_examples(
    tokenizer: Any,
    pairs: Sequence[PreferencePair],
    max_prompt_len: int,
    max_len: int,
    loss_on: Literal["response", "full"] = "response",
) -> tuple[list[SFTExample], int]:
    """Tokenise prompt + chosen + EOS of each pair, fitted to ``max_len``.

    Returns:
        The examples and how many were cut by ``fit_to_length``.
    """
    prompt_ids = tokenizer([pair.prompt for pair in pairs])["input_ids"]
    response_ids = tokenizer([pair.chosen for pair in pairs], add_special_tokens=False)
    examples, truncated = [], 0
    for prompt, response in zip(prompt_ids, response_ids["input_ids"], strict=True):
        fitted = fit_to_length(prompt, [*response, tokenizer.eos_token_id], max_prompt_len, max_len)
        truncated += fitted.truncated
        labels = list(fitted.ids)
        if loss_on == "response":
            labels[: fitted.prompt_length] = [IGNORE_INDEX] * fitted.prompt_length
        examples.append(SFTExample(fitted.ids, labels))
    return examples, truncated


def collate(
    examples: Sequence[SFTExample], pad_id: int, device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    """A right-padded batch on ``device``: input_ids, attention_mask, labels, (B, T) each."""
    input_ids, attention_mask = pad_right([example.input_ids for example in examples], pad_id)
    labels, _ = pad_right([example.labels for example in examples], IGNORE_INDEX)
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
    return {key: value.to(device) for key, value in batch.items()}


def token_nll(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed next-token negative log-likelihood of the labelled tokens, and their count.

    Position t's logits predict token t + 1, so logits (B, T - 1) meet labels shifted left.
    """
    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
    ).logits  # (B, T, V)
    targets = batch["labels"][:, 1:]  # (B, T - 1)
    nll = F.cross_entropy(
        logits[:, :-1].float().flatten(0, 1),
        targets.flatten(),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    return nll, int((targets != IGNORE_INDEX).sum())


@torch.no_grad()
def evaluate_perplexity(
    model: nn.Module,
    examples: Sequence[SFTExample],
    batch_size: int,
    pad_id: int,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """``eval/loss`` (mean token NLL) and ``eval/perplexity`` (its exp) over ``examples``."""
    if not examples:
        return {}
    total, count = 0.0, 0
    for start in range(0, len(examples), batch_size):
        batch = collate(examples[start : start + batch_size], pad_id, device)
        nll, tokens = token_nll(model, batch)
        total, count = total + float(nll), count + tokens
    mean = total / max(count, 1)
    return {"eval/loss": mean, "eval/perplexity": math.exp(mean)}


def _sft_step(
    engine: TrainEngine, examples: Sequence[SFTExample], pad_id: int
) -> Callable[[list[int]], dict[str, float]]:
    def train_step(indices: list[int]) -> dict[str, float]:
        batch = collate([examples[index] for index in indices], pad_id, engine.device)
        nll, tokens = token_nll(engine.module, batch)
        loss = nll / max(tokens, 1)
        engine.backward(loss)
        return {"loss/sft": loss.item()}

    return train_step


def run_sft(
    config: SFTConfig,
    resume: bool = True,
    stop_after: int | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    allow_config_change: bool = False,
) -> dict[str, float]:
    """Step 1: fine-tune ``config.model`` on the chosen responses of ``config.data``.

    Args:
        config: model, data, optimiser, run length and output directory.
        resume: continue from the run folder's checkpoint when it has one.
        stop_after: stop after this many steps of this call (a later call resumes).
        on_step: called with ``(step, metrics)`` after each step.
        allow_config_change: resume even though the config differs from the saved one.

    Returns:
        ``eval/perplexity_before``, ``eval/perplexity`` (when finished), ``eval/loss``, the
        data counts (``data/truncated`` included) and the ``train/`` counters.
    """
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    seed_everything(config.seed)
    data = load_preference_data(config.data)
    tokenizer = run_tokenizer(config, data, resume)
    model = load_causal_lm(config.model, tokenizer, seed=config.seed).to(run_device(config))
    check_model_length(model, config.max_len)
    train, truncated = sft_examples(
        tokenizer, data.train, config.max_prompt_len, config.max_len, config.loss_on
    )
    held_out = data.eval[: config.max_eval_examples]
    evaluation, eval_truncated = sft_examples(
        tokenizer, held_out, config.max_prompt_len, config.max_len, config.loss_on
    )
    data.report.truncated += truncated + eval_truncated
    _, optimizer_steps = scheduled_steps(config, len(train))
    engine = TrainEngine(model, config.optim, optimizer_steps, config.deepspeed, config.batch_size)
    pad_id = tokenizer.pad_token_id

    def evaluate() -> dict[str, float]:
        engine.eval()
        return evaluate_perplexity(
            engine.module, evaluation, config.batch_size, pad_id, engine.device
        )

    return train_loop(
        engine,
        config,
        tokenizer,
        len(train),
        _sft_step(engine, train, pad_id),
        evaluate,
        data.report.metrics(),
        resume=resume,
        stop_after=stop_after,
        on_step=on_step,
        allow_config_change=allow_config_change,
    )
