"""What steps 1 and 2 share: the run config, tokenising, batching and the resumable loop.

The loop walks ``epochs`` passes over the training examples in a seeded order per epoch (or
stops at ``max_steps``), ``batch_size`` examples per step; a step is one
``TrainEngine.step()`` call, so with gradient accumulation ``k`` the weights change every ``k``
steps. A checkpoint holds the engine's state (weights, optimiser, LR schedule) and, in its
client state, the data position (epoch, batch within it) and the RNG states as they were at
the last weight update, so a stopped run (``stop_after``, Ctrl-C, a crash after a checkpoint)
resumes to the same final weights as one that never stopped.

Layout of ``run_dir``: the final ``save_pretrained`` model and tokenizer, ``config.yaml``
(the resolved config), ``tb/`` (TensorBoard) and ``checkpoint/`` (with the tokenizer the run
started with, so a tiny model's trained tokenizer is reused on resume).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from agents import ranks
from agents.checkpoint import (
    capture_rng,
    has_checkpoint,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from agents.interrupt import DeferredInterrupt
from agents.logger import MetricsLogger
from agents.run_folder import commit_config, start_run
from agents.train import seed_everything
from rlhf_text.data import DataConfig, PreferenceData
from rlhf_text.engine import OptimConfig, TrainEngine
from rlhf_text.models import ModelConfig, load_tokenizer, prepare_tokenizer
from rlhf_text.tiny import TinyModelConfig

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
TOKENIZER_DIR = "tokenizer"
IGNORE_INDEX = -100
"""label of tokens that carry no loss (prompt tokens, padding), as transformers uses it"""


@dataclass
class TrainingConfig:
    """A supervised text step: model, data, optimiser, length of the run, outputs."""

    model: ModelConfig = field(default_factory=lambda: ModelConfig(tiny=TinyModelConfig()))
    """the model to start from (default: a fresh tiny GPT-2, trained offline)"""
    data: DataConfig = field(default_factory=DataConfig)
    """the preference rows (default: the embedded dialogues)"""
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(learning_rate=1e-3))
    """AdamW, schedule, clipping, accumulation (1e-3 suits a tiny model from scratch)"""
    epochs: int = 1
    """passes over the training rows"""
    max_steps: int | None = None
    """stop after this many steps even if the epochs are not done (a budget cap; the LR
    schedule spans the capped run); None runs every epoch"""
    batch_size: int = 16
    """examples (SFT) or pairs (reward model) per step"""
    max_prompt_len: int = 128
    """prompt tokens kept (cut from the left) by ``rlhf_text.data.fit_to_length``"""
    max_len: int = 256
    """prompt + response tokens kept (the response is cut from the right)"""
    eval_every: int = 0
    """steps between evaluations on the held-out rows (0: only before and after training)"""
    max_eval_examples: int | None = None
    """evaluate on at most this many held-out rows (the first ones); None for all"""
    checkpoint_every: int = 200
    """steps between checkpoints (one is also written at the end and on Ctrl-C)"""
    seed: int = 0
    """seeds model initialisation, the per-epoch shuffles and dropout"""
    device: str = "auto"
    """where a plain-PyTorch run trains ("cpu", "cuda", "cuda:1"; "auto": cuda if available);
    DeepSpeed places the model itself"""
    run_dir: str = "runs/step"
    """where the model, config.yaml, tb/ and checkpoint/ go"""
    deepspeed: str | dict[str, Any] | None = None
    """a DeepSpeed JSON config (path, or inline mapping) to train under; None: plain PyTorch"""
    progress: bool = True
    """show a progress bar"""
    torch_threads: int = 1
    """torch CPU threads; small models run fastest with 1 (0 keeps torch's default)"""

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise ValueError("epochs, batch_size and checkpoint_every must be >= 1")
        if not 1 <= self.max_prompt_len < self.max_len:
            raise ValueError(
                f"need 1 <= max_prompt_len < max_len (room for a response), got "
                f"max_prompt_len={self.max_prompt_len}, max_len={self.max_len}"
            )
        if self.eval_every < 0 or self.torch_threads < 0:
            raise ValueError("eval_every and torch_threads must be >= 0")
        if self.max_eval_examples is not None and self.max_eval_examples < 1:
            raise ValueError("max_eval_examples must be >= 1 or None")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1 or None, got {self.max_steps}")


def run_device(config: TrainingConfig) -> torch.device:
    """The device a plain run trains on; the CPU under DeepSpeed (it moves the model)."""
    if config.deepspeed is not None:
        return torch.device("cpu")
    if config.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(config.device)


def run_tokenizer(config: TrainingConfig, data: PreferenceData, resume: bool) -> Any:
    """The run's tokenizer: the one saved in ``checkpoint/`` on resume, else a new one.

    A new one is saved there at once, so that a tiny model's trained tokenizer (which a
    resumed run could not retrain bit for bit) comes back with its checkpoint.
    """
    saved = Path(config.run_dir) / CHECKPOINT_DIR / TOKENIZER_DIR
    if resume and saved.is_dir():
        from transformers import AutoTokenizer

        remote_code = config.model.trust_remote_code
        return prepare_tokenizer(
            AutoTokenizer.from_pretrained(saved, trust_remote_code=remote_code)
        )
    texts = [text for pair in data.train for text in (pair.chosen_text, pair.rejected_text)]
    tokenizer = load_tokenizer(config.model, texts)
    tokenizer.save_pretrained(saved)
    return tokenizer


def check_model_length(model: torch.nn.Module, max_len: int) -> None:
    """Raise if ``max_len`` exceeds the model's position limit."""
    positions = getattr(model.config, "max_position_embeddings", None)
    if isinstance(positions, int) and max_len > positions:
        raise ValueError(f"max_len={max_len} exceeds the model's {positions} positions")


def pad_right(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-id lists as a right-padded batch.

    Returns:
        input_ids (B, T) with ``pad_id`` after each row, and attention_mask (B, T) of 0/1.
    """
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)  # (B, T)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)  # (B, T)
    for index, row in enumerate(rows):
        input_ids[index, : len(row)] = torch.tensor(row, dtype=torch.long)
        attention_mask[index, : len(row)] = 1
    return input_ids, attention_mask


def epoch_order(num_examples: int, seed: int, epoch: int) -> list[int]:
    """The seeded shuffle of epoch ``epoch`` (the same on every run and resume)."""
    return np.random.default_rng([seed, epoch]).permutation(num_examples).tolist()


def total_steps(config: TrainingConfig, num_examples: int) -> int:
    """Steps of the whole run: ``epochs`` passes of ``batch_size``, capped at ``max_steps``."""
    steps = config.epochs * math.ceil(num_examples / config.batch_size)
    return steps if config.max_steps is None else min(steps, config.max_steps)


def scheduled_steps(config: TrainingConfig, num_examples: int) -> tuple[int, int]:
    """``(steps, optimiser steps)`` of the whole run.

    A trailing part of an accumulation window (when ``steps`` is not a multiple of it) never
    reaches the optimiser; a warning says so.
    """
    steps = total_steps(config, num_examples)
    accumulation = config.optim.gradient_accumulation_steps
    if steps % accumulation:
        logger.warning(
            "%d steps are not a multiple of gradient_accumulation_steps=%d: the last %d "
            "batches are not applied",
            steps,
            accumulation,
            steps % accumulation,
        )
    return steps, max(1, steps // accumulation)


@dataclass
class LoopPosition:
    """Where the loop is in the data."""

    epoch: int = 0
    batch: int = 0
    """batches done in this epoch"""
    step: int = 0
    """batches done in the run"""

    def advance(self, batches_per_epoch: int) -> LoopPosition:
        if self.batch + 1 < batches_per_epoch:
            return LoopPosition(self.epoch, self.batch + 1, self.step + 1)
        return LoopPosition(self.epoch + 1, 0, self.step + 1)


TrainStep = Callable[[list[int]], dict[str, float]]
"""forward + ``engine.backward`` on the examples at these indices; returns metrics"""
Evaluate = Callable[[], dict[str, float]]
"""metrics on the held-out rows (the model in eval mode, no gradients)"""


def train_loop(
    engine: TrainEngine,
    config: TrainingConfig,
    tokenizer: Any,
    num_examples: int,
    train_step: TrainStep,
    evaluate: Evaluate,
    static_metrics: dict[str, float],
    resume: bool = True,
    stop_after: int | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    allow_config_change: bool = False,
) -> dict[str, float]:
    """Train, evaluate before and after, log, checkpoint, and save the model when done.

    Args:
        engine: the model's engine.
        config: batch size, epochs, intervals, seed and output directory.
        tokenizer: saved beside the final model.
        num_examples: training examples; ``train_step`` gets indices into them.
        train_step: one batch's forward and backward (the loop calls ``engine.step()``).
        evaluate: held-out metrics, run before training, every ``eval_every`` steps, after.
        static_metrics: logged once at step 0 and returned (data counts).
        resume: continue from the run folder's checkpoint if it has one (a changed config is
            refused unless ``allow_config_change``).
        stop_after: stop after this many steps of this call (resume later).
        on_step: called with ``(step, metrics)`` after each step.
        allow_config_change: resume even though the config differs from the saved one.

    Returns:
        ``static_metrics``, the evaluation before training (keys suffixed ``_before``) and,
        when the run finished, after it; ``train/steps``, ``train/optimizer_steps``,
        ``train/seconds`` (of this call) and ``train/finished`` (1.0 or 0.0).
    """
    run_dir = Path(config.run_dir)
    batches_per_epoch = math.ceil(num_examples / config.batch_size)
    run_steps = total_steps(config, num_examples)
    position, initial = LoopPosition(), None
    resuming = start_run(run_dir, config, resume and has_checkpoint(run_dir), allow_config_change)
    if resuming:
        client_state = load_checkpoint(run_dir, {"engine": engine})
        position, initial = LoopPosition(**client_state["position"]), client_state["initial"]
        restore_rng(client_state["rng"])
        commit_config(run_dir, config)
        logger.info("resumed %s at step %d", run_dir, position.step)
    else:
        seed_everything(config.seed)
    metrics_logger = MetricsLogger(run_dir / "tb", purge_step=position.step or None)
    if initial is None:
        initial = {f"{key}_before": value for key, value in evaluate().items()}
        metrics_logger.log({**static_metrics, **initial}, 0)
    # the state at the last weight update: what a checkpoint records
    snapshot = {"position": asdict(position), "rng": capture_rng(), "initial": initial}
    bar = tqdm(
        total=run_steps, initial=position.step, unit="step",
        disable=not config.progress or ranks.rank() != 0,  # one bar, not one per rank
    )  # fmt: skip
    start_time, start_step = time.perf_counter(), position.step
    order = epoch_order(num_examples, config.seed, position.epoch)

    def checkpoint() -> None:  # the state at the last weight update
        save_checkpoint(run_dir, snapshot["position"]["step"], snapshot, {"engine": engine})

    try:
        with DeferredInterrupt("step") as interrupt:
            while position.step < run_steps:
                if stop_after is not None and position.step - start_step >= stop_after:
                    break
                indices = order[position.batch * config.batch_size :][: config.batch_size]
                indices = engine.local_batch(indices)  # batch_size is global over the ranks
                engine.train()
                metrics = {"train/lr": engine.lr, **train_step(indices)}
                metrics["train/grad_norm"] = engine.step()
                epoch = position.epoch
                position = position.advance(batches_per_epoch)
                if position.epoch != epoch:
                    order = epoch_order(num_examples, config.seed, position.epoch)
                if engine.last_step_updated:
                    snapshot = {
                        "position": asdict(position),
                        "rng": capture_rng(),
                        "initial": initial,
                    }
                if config.eval_every and position.step % config.eval_every == 0:
                    metrics.update(evaluate())
                metrics_logger.log(metrics, position.step)
                bar.update(1)
                bar.set_postfix(
                    {k: f"{v:.3g}" for k, v in metrics.items() if k.startswith("loss/")}
                )
                if on_step is not None:
                    on_step(position.step, metrics)
                interrupt.boundary(checkpoint, position.step % config.checkpoint_every == 0)
    finally:
        bar.close()
    checkpoint()
    result = {**static_metrics, **initial}
    finished = position.step >= run_steps
    if finished:
        final = evaluate()
        metrics_logger.log(final, position.step)
        result.update(final)
        engine.save_pretrained(run_dir, tokenizer)
    metrics_logger.close()
    result["train/steps"] = float(position.step)
    result["train/optimizer_steps"] = float(engine.optimizer_steps)
    result["train/seconds"] = time.perf_counter() - start_time
    result["train/finished"] = float(finished)
    return result
