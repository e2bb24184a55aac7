"""TrainEngine: one trainable model with its optimiser and LR schedule, plain or DeepSpeed.

Every text step trains through this one interface (PPO holds two: actor and critic)::

    engine = TrainEngine(model, OptimConfig(), total_steps, deepspeed_config=None)
    loss = loss_fn(engine.module(**batch))   # call forward on .module
    engine.backward(loss)
    grad_norm = engine.step()                # clip, optimiser step, LR step, zero grads

Plain PyTorch: AdamW, gradients accumulated over ``gradient_accumulation_steps`` calls (the
loss is divided by it, as DeepSpeed does), clipped to ``max_grad_norm`` (or a tighter limit
given to ``step``), and one atomic ``torch.save`` for checkpoints. DeepSpeed (a JSON path
or a dict): ``deepspeed.initialize`` with ZeRO stage 0-3, bf16 or optimizer offload as the
config says; the keys the config leaves out or sets to ``"auto"`` are filled from
:class:`OptimConfig` (see :func:`rlhf_text.deepspeed_config.build_deepspeed_config`).
DeepSpeed is imported only when a config is given.

Weight decay applies to matrices only: biases and LayerNorm weights (1-D parameters) are
not decayed, as in DeepSpeed-Chat's ``get_optimizer_grouped_parameters``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from agents import ranks
from agents.checkpoint import STATE_FILE, load_state_dict_strict, read_tree, write_tree
from rlhf_text.deepspeed_config import (
    build_deepspeed_config,
    check_checkpoint_ranks,
    init_distributed,
    rank_share,
)

logger = logging.getLogger(__name__)

PLAIN_CHECKPOINT = STATE_FILE
"""the plain engine's state file inside a checkpoint directory (JSON beside safetensors,
:func:`agents.checkpoint.write_tree`)"""
DEEPSPEED_LATEST = "latest"
"""the file DeepSpeed writes naming its newest checkpoint tag"""


@dataclass
class OptimConfig:
    """AdamW, the learning-rate schedule, clipping and accumulation of one trained model."""

    learning_rate: float = 1e-4
    """peak AdamW step size (reached after warmup)"""
    weight_decay: float = 0.0
    """AdamW decoupled weight decay of matrices (not biases or LayerNorm weights)"""
    adam_betas: tuple[float, float] = (0.9, 0.95)
    """AdamW moment decay rates (DeepSpeed-Chat's 0.9, 0.95)"""
    adam_eps: float = 1e-8
    """AdamW denominator epsilon"""
    lr_scheduler: Literal["constant", "linear", "cosine"] = "cosine"
    """decay after warmup: none, linear to 0, or half a cosine to 0 at the last step"""
    warmup_steps: int = 0
    """optimiser steps of linear warmup from 0 to ``learning_rate``"""
    max_grad_norm: float | None = 1.0
    """clip the global gradient norm to this (None: no clipping)"""
    gradient_accumulation_steps: int = 1
    """micro-batches whose gradients are summed (as a mean) into one optimiser step"""

    def __post_init__(self) -> None:
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.weight_decay < 0 or self.adam_eps <= 0:
            raise ValueError("weight_decay must be >= 0 and adam_eps > 0")
        if len(self.adam_betas) != 2 or not all(0.0 <= beta < 1.0 for beta in self.adam_betas):
            raise ValueError(f"adam_betas must be two numbers in [0, 1), got {self.adam_betas}")
        if self.lr_scheduler not in ("constant", "linear", "cosine"):
            raise ValueError(
                f"lr_scheduler must be constant, linear or cosine, not {self.lr_scheduler}"
            )
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be > 0 or None, got {self.max_grad_norm}")
        if self.gradient_accumulation_steps < 1:
            raise ValueError("gradient_accumulation_steps must be >= 1")


def lr_factor(optim: OptimConfig, total_steps: int) -> Callable[[int], float]:
    """The multiplier of ``learning_rate`` after ``step`` optimiser steps (for ``LambdaLR``).

    Matches transformers' ``get_scheduler``: ``step / warmup_steps`` during warmup, then 1
    (constant), ``1 - progress`` (linear) or ``(1 + cos(pi * progress)) / 2`` (cosine), where
    ``progress`` runs from 0 after warmup to 1 at ``total_steps``.
    """

    def factor(step: int) -> float:
        if step < optim.warmup_steps:
            return step / optim.warmup_steps
        if optim.lr_scheduler == "constant":
            return 1.0
        progress = min(1.0, (step - optim.warmup_steps) / max(1, total_steps - optim.warmup_steps))
        if optim.lr_scheduler == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Trainable parameters in two AdamW groups: matrices decayed, 1-D tensors not."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    decayed = [p for p in trainable if p.dim() >= 2]
    others = [p for p in trainable if p.dim() < 2]
    groups = [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": others, "weight_decay": 0.0},
    ]
    return [group for group in groups if group["params"]]


def _fusable(model: nn.Module) -> bool:
    """Whether torch's fused AdamW can take the model's trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    return bool(params) and all(
        p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params
    )


class TrainEngine:
    """One trainable model, its optimiser and LR schedule, in plain PyTorch or DeepSpeed.

    Args:
        model: the model to train (moved to no device: put it where it should run first).
        optim: learning rate, schedule, clipping, accumulation.
        total_steps: optimiser steps over the whole run (the schedule's horizon); with
            accumulation ``k``, that is the number of ``step()`` calls divided by ``k``.
        deepspeed_config: None for plain PyTorch, or a DeepSpeed JSON path or dict.
        micro_batch_size: examples per ``backward`` (DeepSpeed's
            ``train_micro_batch_size_per_gpu``; bookkeeping only).

    Attributes:
        module: the ``nn.Module`` to call forward on (with ZeRO-3 too: DeepSpeed's gather
            hooks are installed on it).
        optimizer_steps: optimiser steps taken (restored by :meth:`load_checkpoint`).
        last_step_updated: whether the last :meth:`step` call stepped the optimiser.
    """

    def __init__(
        self,
        model: nn.Module,
        optim: OptimConfig,
        total_steps: int,
        deepspeed_config: str | os.PathLike[str] | dict[str, Any] | None = None,
        micro_batch_size: int = 1,
    ) -> None:
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        self.optim = optim
        self.total_steps = total_steps
        self.optimizer_steps = 0
        self.last_step_updated = False
        self._micro_steps = 0
        self.deepspeed: Any = None
        groups = parameter_groups(model, optim.weight_decay)
        if deepspeed_config is None:
            self.module = model
            self.optimizer = torch.optim.AdamW(
                groups,
                lr=optim.learning_rate,
                betas=optim.adam_betas,
                eps=optim.adam_eps,
                fused=_fusable(model),  # one kernel per step (benchmarks/text_ppo_step.py)
            )
            self.scheduler = LambdaLR(self.optimizer, lr_factor(optim, total_steps))
            return
        import deepspeed

        init_distributed()
        bf16 = any(p.dtype == torch.bfloat16 for p in model.parameters())
        config = build_deepspeed_config(deepspeed_config, optim, micro_batch_size, bf16)

        def scheduler(optimizer: torch.optim.Optimizer) -> LambdaLR:  # given DeepSpeed's
            return LambdaLR(optimizer, lr_factor(optim, total_steps))

        self.deepspeed, _, _, _ = deepspeed.initialize(
            model=model,
            model_parameters=groups,
            lr_scheduler=None if "scheduler" in config else scheduler,  # the file's wins
            config=config,
        )
        self.module = self.deepspeed.module

    # -- training ---------------------------------------------------------------------------

    @property
    def zero_stage(self) -> int | None:
        """The ZeRO stage under DeepSpeed, None for plain PyTorch."""
        return None if self.deepspeed is None else int(self.deepspeed.zero_optimization_stage())

    @property
    def device(self) -> torch.device:
        """Where the model's inputs go."""
        if self.deepspeed is not None:
            return torch.device(self.deepspeed.device)
        return next(self.module.parameters()).device

    @property
    def lr(self) -> float:
        """The learning rate of the next optimiser step."""
        if self.deepspeed is not None:
            return float(self.deepspeed.get_lr()[0])
        return float(self.optimizer.param_groups[0]["lr"])

    def local_batch(self, indices: list[int]) -> list[int]:
        """This rank's share of a global batch's example indices (all of them on one rank)."""
        world = ranks.world_size() if self.deepspeed is not None else 1
        return indices if world == 1 else rank_share(indices, ranks.rank(), world)

    def backward(self, loss: torch.Tensor) -> None:
        """Accumulate the gradients of ``loss`` (a scalar), divided by the accumulation steps."""
        if self.deepspeed is not None:
            self.deepspeed.backward(loss)
            # DeepSpeed's own forward starts each micro-step with this call; callers run
            # .module (or a submodule) directly, so do it here, once the backward is done.
            # Without it ZeRO-3 keeps only the last micro-batch's gradients of a window.
            clear_flag = getattr(self.deepspeed.optimizer, "clear_backward_seen_flag", None)
            if clear_flag is not None:
                clear_flag()
        else:
            (loss / self.optim.gradient_accumulation_steps).backward()

    def step(self, max_grad_norm: float | None = None) -> float:
        """End a micro-batch; every ``gradient_accumulation_steps``-th call updates the weights.

        An update clips the gradients, steps the optimiser and the LR schedule and zeroes the
        gradients. The clip is the smaller of ``OptimConfig.max_grad_norm`` and
        ``max_grad_norm`` (None on either side is no limit), so a caller such as PPO's
        ``max_grad_norm`` can only tighten it.

        Args:
            max_grad_norm: a further limit for this call. Under DeepSpeed the clip is fixed
                at ``deepspeed.initialize`` (``gradient_clipping``), so a tighter limit than
                that is an error rather than silently ignored.

        Returns:
            The global gradient norm before clipping, or NaN when this call did not update.

        Raises:
            ValueError: under DeepSpeed, ``max_grad_norm`` is below its ``gradient_clipping``.
        """
        if self.deepspeed is not None:
            return self._deepspeed_step(max_grad_norm)
        self._micro_steps += 1
        self.last_step_updated = self._micro_steps % self.optim.gradient_accumulation_steps == 0
        if not self.last_step_updated:
            return math.nan
        parameters = [p for p in self.module.parameters() if p.grad is not None]
        limits = [n for n in (self.optim.max_grad_norm, max_grad_norm) if n is not None]
        grad_norm = torch.nn.utils.clip_grad_norm_(parameters, min(limits, default=math.inf))
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.optimizer_steps += 1
        return float(grad_norm)

    def _deepspeed_step(self, max_grad_norm: float | None = None) -> float:
        engine = self.deepspeed
        clipping = float(engine.gradient_clipping()) or math.inf  # 0 is DeepSpeed's "none"
        if max_grad_norm is not None and max_grad_norm < clipping:
            raise ValueError(
                f"DeepSpeed clips gradients to {clipping} (gradient_clipping, fixed at "
                f"initialize) but this step asks for {max_grad_norm}: set OptimConfig."
                f"max_grad_norm (and the file's gradient_clipping) to {max_grad_norm}"
            )
        self.last_step_updated = bool(engine.is_gradient_accumulation_boundary())
        own_norm = None
        if self.last_step_updated and self.zero_stage == 0:
            # without a ZeRO optimiser DeepSpeed clips but does not keep the norm
            grads = [p.grad.float() for p in self.module.parameters() if p.grad is not None]
            own_norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
        engine.step()
        if not self.last_step_updated:
            return math.nan
        self.optimizer_steps += 1
        grad_norm = engine.get_global_grad_norm()
        grad_norm = own_norm if grad_norm is None else grad_norm
        return math.nan if grad_norm is None else float(grad_norm)

    def train(self) -> None:
        (self.deepspeed or self.module).train()

    def eval(self) -> None:
        (self.deepspeed or self.module).eval()

    # -- checkpoints ------------------------------------------------------------------------

    def has_checkpoint(self, directory: str | os.PathLike[str]) -> bool:
        """Whether ``directory`` holds a checkpoint this engine can load.

        Raises:
            ValueError: it holds one written by the other kind of engine.
        """
        directory = Path(directory)
        plain = (directory / PLAIN_CHECKPOINT).is_file()
        deepspeed = (directory / DEEPSPEED_LATEST).is_file()
        if (plain and self.deepspeed is not None) or (deepspeed and self.deepspeed is None):
            kind = "plain PyTorch" if plain else "DeepSpeed"
            raise ValueError(f"{directory} holds a {kind} checkpoint: resume with the same setup")
        return plain or deepspeed

    def save_checkpoint(
        self, directory: str | os.PathLike[str], client_state: dict[str, Any] | None = None
    ) -> None:
        """Write weights, optimiser, LR schedule and ``client_state`` into ``directory``.

        Plain: JSON and safetensors (no pickle, :func:`agents.checkpoint.write_tree`).
        DeepSpeed: its own sharded checkpoint (tag ``global_step{N}``); older tags in
        ``directory`` are removed once the new one is complete. Atomicity comes from the
        caller writing into a fresh folder (:func:`agents.checkpoint.save_checkpoint`). Save
        at an update boundary: gradients accumulated since the last optimiser step are not
        saved.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        client_state = dict(client_state or {})
        client_state["optimizer_steps"] = self.optimizer_steps
        if self.deepspeed is None:
            payload = {
                "model": self.module.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "client_state": client_state,
            }
            write_tree(directory, payload)
            return
        tag = f"global_step{self.deepspeed.global_steps}"
        self.deepspeed.save_checkpoint(str(directory), tag=tag, client_state=client_state)
        if self.deepspeed.global_rank == 0:
            for stale in directory.glob("global_step*"):
                if stale.is_dir() and stale.name != tag:
                    shutil.rmtree(stale)

    def load_checkpoint(self, directory: str | os.PathLike[str]) -> dict[str, Any]:
        """Restore what :meth:`save_checkpoint` wrote; returns its ``client_state``.

        Raises:
            FileNotFoundError: no checkpoint of this engine's kind in ``directory``.
            CheckpointError: ZeRO shards of another number of ranks (one line).
        """
        directory = Path(directory)
        if not self.has_checkpoint(directory):
            raise FileNotFoundError(f"no checkpoint in {directory}")
        if self.deepspeed is None:
            payload = read_tree(directory)
            load_state_dict_strict(self.module, payload["model"], f"{directory}: the model")
            self.optimizer.load_state_dict(payload["optimizer"])
            self.scheduler.load_state_dict(payload["scheduler"])
            client_state = payload["client_state"]
        else:
            check_checkpoint_ranks(directory, ranks.world_size())
            load_path, client_state = self.deepspeed.load_checkpoint(str(directory))
            if load_path is None:
                raise FileNotFoundError(f"DeepSpeed found no checkpoint in {directory}")
        self.optimizer_steps = int(client_state["optimizer_steps"])
        self._micro_steps = self.optimizer_steps * self.optim.gradient_accumulation_steps
        return client_state

    def checkpoint_state(self, directory: Path) -> Any:
        """As a part of a run's checkpoint (:class:`agents.checkpoint.Checkpointable`)."""
        self.save_checkpoint(directory)
        return {"deepspeed": self.deepspeed is not None}

    def restore_checkpoint(self, directory: Path, state: Any) -> None:
        self.load_checkpoint(directory)

    def save_pretrained(self, directory: str | os.PathLike[str], tokenizer: Any = None) -> None:
        """Write a normal Hugging Face directory (``from_pretrained`` loads it).

        Under ZeRO-3 the weights are gathered first; rank 0 writes, then every rank returns.
        """
        directory, rank = Path(directory), ranks.rank()
        gathered: Any = contextlib.nullcontext()
        if self.zero_stage == 3:
            import deepspeed

            gathered = deepspeed.zero.GatheredParameters(list(self.module.parameters()), None)
        with gathered:
            if rank == 0:
                self.module.save_pretrained(directory)
        if rank == 0 and tokenizer is not None:
            tokenizer.save_pretrained(directory)
        ranks.barrier()  # the next step's ranks may load this directory at once
