"""Step 2, the reward model: a transformer with a scalar head, trained on preference pairs.

The model is ``AutoModelForSequenceClassification`` with one label (:func:`load_value_model`):
from a causal-LM directory (the base model or step 1's output) its ``score`` head is new.
It scores ``prompt + response`` at the last token that is not the pad token, and it is
trained with the Bradley-Terry loss of :mod:`agents.preference`, chosen and rejected rows of
a batch concatenated into one forward pass as DeepSpeed-Chat does.

Texts are tokenised exactly as ``envs.rewards.reward_model.RewardModelScorer`` tokenises
them (``prompt + response`` as one string, ``add_special_tokens=False``, right padding, the
model's own pooling), so the saved directory loads as the text env's reward model and scores
as in training. Over-long texts are cut by ``rlhf_text.data.fit_to_length`` (the prompt from
the left, the response from the right); the scorer itself cuts from the left at its
``max_length``, so set that to at least ``max_len`` to score as trained.

Evaluation, as DeepSpeed-Chat's step 2: accuracy (chosen scored above rejected) and the mean
chosen and rejected scores on the held-out pairs, before and after training.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from agents.preference import pairwise_loss, preference_metrics
from rlhf_text.data import FittedIds, PreferencePair, fit_to_length, load_preference_data
from rlhf_text.engine import TrainEngine
from rlhf_text.models import load_value_model
from rlhf_text.training import (
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
class RMConfig(TrainingConfig):
    """Step 2: train a reward model on (prompt, chosen, rejected) pairs."""

    run_dir: str = "runs/reward_model"
    """where the model, config.yaml, tb/ and checkpoint/ go"""


class PairIds(NamedTuple):
    """A tokenised pair: the token ids of prompt + chosen and of prompt + rejected."""

    chosen: list[int]
    rejected: list[int]


def scorer_token_ids(
    tokenizer: Any,
    prompts: Sequence[str],
    responses: Sequence[str],
    max_prompt_len: int,
    max_len: int,
) -> list[FittedIds]:
    """Token ids of each ``prompt + response`` as ``RewardModelScorer`` makes them, fitted.

    The whole text is tokenised at once (no special tokens), so a token that spans the seam
    is the scorer's token; the prompt's share is the longest common prefix with the prompt
    tokenised alone. ``fit_to_length`` then cuts over-long texts (``.truncated`` says which).
    """
    texts = [prompt + response for prompt, response in zip(prompts, responses, strict=True)]
    full_ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    prompt_ids = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    rows = []
    for full, prompt in zip(full_ids, prompt_ids, strict=True):
        seam = 0
        while seam < min(len(full), len(prompt)) and full[seam] == prompt[seam]:
            seam += 1
        seam = max(1, min(seam, len(full) - 1))  # at least one token on each side
        rows.append(fit_to_length(full[:seam], full[seam:], max_prompt_len, max_len))
    return rows


def pair_examples(
    tokenizer: Any,
    pairs: Sequence[PreferencePair],
    max_prompt_len: int,
    max_len: int,
    pad_id: int,
) -> tuple[list[PairIds], int]:
    """Tokenise every pair; returns the pairs and how many had a text cut.

    Raises:
        ValueError: a text ends with the pad token, which the model's pooling would skip
            (use a tokenizer whose pad token is not EOS, or drop the trailing EOS text).
    """
    prompts = [pair.prompt for pair in pairs]
    lengths = (max_prompt_len, max_len)
    chosen = scorer_token_ids(tokenizer, prompts, [pair.chosen for pair in pairs], *lengths)
    rejected = scorer_token_ids(tokenizer, prompts, [pair.rejected for pair in pairs], *lengths)
    examples, truncated, ends_with_pad = [], 0, []
    for row, (good, bad) in enumerate(zip(chosen, rejected, strict=True)):
        examples.append(PairIds(good.ids, bad.ids))
        truncated += good.truncated or bad.truncated
        if pad_id in (good.ids[-1], bad.ids[-1]):
            ends_with_pad.append(row)
    if ends_with_pad:
        raise ValueError(
            f"{len(ends_with_pad)} pairs (first: row {ends_with_pad[0]}) end with the pad token "
            f"id {pad_id}: the model's pooling would score an earlier token"
        )
    return examples, truncated


def score_rows(
    model: nn.Module, rows: Sequence[Sequence[int]], device: torch.device | str = "cpu"
) -> torch.Tensor:
    """The model's scores of token-id lists, right-padded in one batch; (N,) float32.

    The padding uses ``model.config.pad_token_id``, so the model's pooling reads each row's
    last real token.
    """
    input_ids, attention_mask = pad_right(rows, model.config.pad_token_id)  # (N, T) each
    logits = model(
        input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)
    ).logits  # (N, 1), pooled at each row's last non-pad token
    return logits[:, 0].float()


@torch.no_grad()
def score_pairs(
    model: nn.Module,
    examples: Sequence[PairIds],
    batch_size: int,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores of the chosen and the rejected texts, (N,) each, ``batch_size`` pairs a pass."""
    chosen, rejected = [], []
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        scores = score_rows(model, [p.chosen for p in batch] + [p.rejected for p in batch], device)
        chosen.append(scores[: len(batch)].cpu())
        rejected.append(scores[len(batch) :].cpu())
    return torch.cat(chosen), torch.cat(rejected)


def evaluate_pairs(
    model: nn.Module,
    examples: Sequence[PairIds],
    batch_size: int,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """``eval/accuracy``, ``eval/chosen_score``, ``eval/rejected_score``, ``eval/margin`` and
    ``eval/loss`` of ``model`` on tokenised pairs (an empty dict for no pairs)."""
    if not examples:
        return {}
    chosen, rejected = score_pairs(model, examples, batch_size, device)
    metrics = preference_metrics(chosen, rejected)
    metrics["loss"] = float(pairwise_loss(chosen, rejected))
    return {f"eval/{key}": value for key, value in metrics.items()}


def evaluate_reward_model(
    model: str | os.PathLike[str] | nn.Module,
    pairs: Sequence[PreferencePair],
    tokenizer: Any = None,
    batch_size: int = 16,
    max_length: int = 512,
    device: str = "cpu",
) -> dict[str, float]:
    """Accuracy and mean scores of a reward model on preference pairs, as the env scores.

    Args:
        model: a reward-model directory (step 2's output) or hub name, or a built model.
        pairs: the pairs to score.
        tokenizer: needed with a built model; loaded from ``model`` when it is a path.
        batch_size: texts per forward pass.
        max_length: most tokens scored per text (the scorer keeps the last ones).
        device: where the model runs.

    Returns:
        ``accuracy``, ``chosen_score``, ``rejected_score``, ``margin`` and ``loss`` (the mean
        pairwise loss) over ``pairs``.
    """
    from envs.rewards.reward_model import RewardModelScorer

    scorer = RewardModelScorer(
        model, tokenizer, batch_size=batch_size, max_length=max_length, device=device
    )
    prompts = [pair.prompt for pair in pairs]
    chosen = torch.from_numpy(scorer.score(prompts, [pair.chosen for pair in pairs]))
    rejected = torch.from_numpy(scorer.score(prompts, [pair.rejected for pair in pairs]))
    metrics = preference_metrics(chosen, rejected)
    metrics["loss"] = float(pairwise_loss(chosen, rejected))
    return metrics


def _rm_step(
    engine: TrainEngine, examples: Sequence[PairIds]
) -> Callable[[list[int]], dict[str, float]]:
    def train_step(indices: list[int]) -> dict[str, float]:
        batch = [examples[index] for index in indices]
        rows = [pair.chosen for pair in batch] + [pair.rejected for pair in batch]
        scores = score_rows(engine.module, rows, engine.device)  # (2B,): chosen then rejected
        chosen, rejected = scores[: len(batch)], scores[len(batch) :]
        loss = pairwise_loss(chosen, rejected)
        engine.backward(loss)
        metrics = {f"train/{k}": v for k, v in preference_metrics(chosen, rejected).items()}
        return {"loss/rm": loss.item(), **metrics}

    return train_step


def run_reward_model(
    config: RMConfig,
    resume: bool = True,
    stop_after: int | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    allow_config_change: bool = False,
) -> dict[str, float]:
    """Step 2: train a reward model on ``config.data``'s pairs.

    Args:
        config: model, data, optimiser, run length and output directory.
        resume: continue from the run folder's checkpoint when it has one.
        stop_after: stop after this many steps of this call (a later call resumes).
        on_step: called with ``(step, metrics)`` after each step.
        allow_config_change: resume even though the config differs from the saved one.

    Returns:
        ``eval/accuracy``, ``eval/chosen_score``, ``eval/rejected_score``, ``eval/margin``,
        ``eval/loss`` after training (when finished) and with ``_before`` before it, the data
        counts (``data/truncated``: pairs with a text cut) and the ``train/`` counters.
    """
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    seed_everything(config.seed)
    data = load_preference_data(config.data)
    tokenizer = run_tokenizer(config, data, resume)
    model = load_value_model(config.model, tokenizer, seed=config.seed).to(run_device(config))
    check_model_length(model, config.max_len)
    pad_id = model.config.pad_token_id
    lengths = (config.max_prompt_len, config.max_len, pad_id)
    train, truncated = pair_examples(tokenizer, data.train, *lengths)
    held_out = data.eval[: config.max_eval_examples]
    evaluation, eval_truncated = pair_examples(tokenizer, held_out, *lengths)
    data.report.truncated += truncated + eval_truncated
    _, optimizer_steps = scheduled_steps(config, len(train))
    engine = TrainEngine(model, config.optim, optimizer_steps, config.deepspeed, config.batch_size)

    def evaluate() -> dict[str, float]:
        engine.eval()
        return evaluate_pairs(engine.module, evaluation, config.batch_size, engine.device)

    return train_loop(
        engine,
        config,
        tokenizer,
        len(train),
        _rm_step(engine, train),
        evaluate,
        data.report.metrics(),
        resume=resume,
        stop_after=stop_after,
        on_step=on_step,
        allow_config_change=allow_config_change,
    )
