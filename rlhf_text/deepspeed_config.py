"""DeepSpeed's side of the text steps: the process group and the filled-in config.

:func:`build_deepspeed_config` turns a DeepSpeed JSON file (or dict) into the config a
:class:`rlhf_text.engine.TrainEngine` initialises with, filling what the file leaves out or
sets to ``"auto"`` from the engine's :class:`rlhf_text.engine.OptimConfig`;
:func:`init_distributed` starts the process group, alone in one process when not launched by
the ``deepspeed`` launcher or torchrun. DeepSpeed itself is imported only when called.
:func:`rank_share` and :func:`check_checkpoint_ranks` are what several ranks need.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents import ranks

if TYPE_CHECKING:  # engine.py imports this module; the config is only read here
    from rlhf_text.engine import OptimConfig

logger = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def init_distributed() -> None:
    """Initialise DeepSpeed's process group; alone in one process when not launched.

    The ``deepspeed`` launcher (or torchrun) sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR`` and ``MASTER_PORT``; a plain ``python`` run gets a world of one on
    127.0.0.1 and a free port. Calling it again is a no-op.
    """
    import deepspeed
    import torch.distributed as dist

    if not dist.is_initialized() and "RANK" not in os.environ:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(_free_port()))
        os.environ.setdefault("RANK", "0")
        os.environ.setdefault("WORLD_SIZE", "1")
        os.environ.setdefault("LOCAL_RANK", "0")
    deepspeed.init_distributed()


def _fill(mapping: dict[str, Any], key: str, value: Any, section: str = "") -> None:
    """Set ``mapping[key]`` to ``value`` when absent or ``"auto"``; warn when it differs."""
    current = mapping.get(key, "auto")
    if current == "auto":
        mapping[key] = value
    elif current != value:
        logger.warning(
            "DeepSpeed config %s%s=%r overrides OptimConfig's %r", section, key, current, value
        )


def build_deepspeed_config(
    deepspeed_config: str | os.PathLike[str] | dict[str, Any],
    optim: OptimConfig,
    micro_batch_size: int,
    bf16_parameters: bool = False,
) -> dict[str, Any]:
    """The DeepSpeed config with the keys a training step needs filled from ``optim``.

    Filled when absent or ``"auto"`` (a value the file gives wins, with a warning if it
    differs): ``train_micro_batch_size_per_gpu`` (``micro_batch_size``),
    ``gradient_accumulation_steps``, ``gradient_clipping`` (``max_grad_norm``, 0 for none),
    and the ``optimizer`` section (AdamW with ``lr``, ``betas``, ``eps``, ``weight_decay``
    and ``torch_adam: true``, which avoids compiling DeepSpeed's fused Adam at start-up; set
    it false in the file to get fused or CPU Adam). ``train_batch_size: "auto"`` is dropped
    (DeepSpeed derives it). ``bf16`` is enabled when the model's parameters are bfloat16 and
    the file says nothing of bf16 or fp16. Without a ``scheduler`` section the engine adds
    :func:`lr_factor`'s schedule itself.

    Raises:
        ValueError: the file's ``gradient_accumulation_steps`` differs from ``optim``'s (the
            schedule's length is counted with ``optim``'s).
    """
    if isinstance(deepspeed_config, dict):
        config = copy.deepcopy(deepspeed_config)
    else:
        path = Path(deepspeed_config)
        if not path.is_file():
            raise FileNotFoundError(f"DeepSpeed config not found: {path}")
        config = json.loads(path.read_text())
    accumulation = config.get("gradient_accumulation_steps", "auto")
    if accumulation not in ("auto", optim.gradient_accumulation_steps):
        raise ValueError(
            f"DeepSpeed gradient_accumulation_steps={accumulation} but OptimConfig has "
            f"{optim.gradient_accumulation_steps}: set one of them (or 'auto' in the file)"
        )
    _fill(config, "train_micro_batch_size_per_gpu", micro_batch_size)
    _fill(config, "gradient_accumulation_steps", optim.gradient_accumulation_steps)
    _fill(config, "gradient_clipping", optim.max_grad_norm or 0.0)
    if config.get("train_batch_size") == "auto":
        del config["train_batch_size"]
    optimizer = config.setdefault("optimizer", {"type": "AdamW"})
    params = optimizer.setdefault("params", {})
    _fill(params, "lr", optim.learning_rate, "optimizer.params.")
    _fill(params, "betas", list(optim.adam_betas), "optimizer.params.")
    _fill(params, "eps", optim.adam_eps, "optimizer.params.")
    _fill(params, "weight_decay", optim.weight_decay, "optimizer.params.")
    params.setdefault("torch_adam", True)
    if bf16_parameters and "bf16" not in config and "fp16" not in config:
        config["bf16"] = {"enabled": True}
    return config


def rank_share(indices: list[int], rank: int, world_size: int) -> list[int]:
    """Rank ``rank``'s part of a global batch: every ``world_size``-th index from ``rank``.

    Each rank's loss is the mean over its part and DeepSpeed averages the gradients, so a
    global batch split into equal parts gives the gradient one process would compute.

    Raises:
        ValueError: a batch too small for every rank to get an example.
    """
    share = ranks.shard(indices, rank, world_size)
    if not share:
        raise ValueError(
            f"a batch of {len(indices)} examples cannot be shared by {world_size} ranks: make "
            f"batch_size a multiple of {world_size} and the training rows too (or set max_steps)"
        )
    return share


def checkpoint_world_size(directory: Path) -> int | None:
    """How many data-parallel ranks wrote the DeepSpeed checkpoint in ``directory``.

    Counts the ZeRO optimizer shards (``*zero_pp_rank_{R}_mp_rank_*_optim_states.pt``) of the
    tag ``latest`` names; None when there are none (ZeRO stage 0 keeps whole states).
    """
    latest = directory / "latest"
    if not latest.is_file():
        return None
    shards = (directory / latest.read_text().strip()).glob("*zero_pp_rank_*optim_states.pt")
    ranks = {path.name.split("zero_pp_rank_")[1].split("_")[0] for path in shards}
    return len(ranks) or None


def check_checkpoint_ranks(directory: Path, world_size: int) -> None:
    """Refuse, in one line, ZeRO shards that ``world_size`` ranks cannot load.

    DeepSpeed partitions the optimizer state (and under ZeRO-3 the weights) per rank; loaded
    by another number of ranks it refuses with a long trace, or (ZeRO-2) restores one rank's
    partition of the Adam moments into a differently sized one.

    Raises:
        CheckpointError: the checkpoint was written by another number of ranks.
    """
    from agents.checkpoint import CheckpointError

    saved = checkpoint_world_size(directory)
    if saved is not None and saved != world_size:
        raise CheckpointError(
            f"{directory} holds ZeRO shards of {saved} ranks but this run has {world_size}: "
            f"resume with {saved} ranks, or start afresh (--fresh)"
        )
