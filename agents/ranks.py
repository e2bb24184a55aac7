"""Which process this is in a multi-process run, and the few collectives that checkpoints and
PPO's shared-out rollouts need.

A run launched by the ``deepspeed`` launcher or torchrun has a ``torch.distributed`` process
group (DeepSpeed's engine starts it); everything else is a world of one, where these
functions are no-ops. Nothing here starts a process group.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


def _grouped() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's global rank (0 without a process group)."""
    return dist.get_rank() if _grouped() else 0


def is_main() -> bool:
    """Whether this process is rank 0. Before the process group forms (a pipeline's first
    step prepares its run folder before DeepSpeed starts the group) it reads the launcher's
    ``RANK``, so the other ranks already leave shared files to rank 0."""
    if _grouped():
        return dist.get_rank() == 0
    return os.environ.get("RANK", "0").strip() in ("", "0")


def world_size() -> int:
    """Processes in the run (1 without a process group)."""
    return dist.get_world_size() if _grouped() else 1


def barrier() -> None:
    """Wait until every process gets here (nothing to wait for in a world of one)."""
    if world_size() > 1:
        dist.barrier()


def broadcast(value: T) -> T:
    """Rank 0's ``value`` on every rank (a picklable object; only rank 0's is sent)."""
    if world_size() == 1:
        return value
    box = [value if rank() == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_true(flag: bool) -> bool:
    """Whether ``flag`` holds on every rank (``flag`` itself in a world of one).

    A collective: every rank must call it at the same point, as each step of a rollout does.
    """
    if world_size() == 1:
        return bool(flag)
    box = torch.tensor([0 if flag else 1], dtype=torch.int64)
    dist.all_reduce(box)  # the count of ranks where it does not hold
    return int(box.item()) == 0


def gather_rows(rows: Sequence[T]) -> list[T]:
    """Every rank's rows in the global batch's order, on every rank (``rows`` alone in a
    world of one).

    Rank ``r`` of ``N`` holds global rows ``r, r + N, r + 2N, ...`` (the split of
    :func:`shard`); this interleaves them back, so the result is the batch one process
    would hold. Rows are picklable objects (numbers, strings); every rank must hold as
    many, and every rank must call it (a collective).
    """
    shares = gather_all(list(rows))
    if len({len(share) for share in shares}) != 1:
        raise ValueError(f"ranks hold unequal shares of a batch: {[len(s) for s in shares]}")
    return [row for group in zip(*shares, strict=True) for row in group]


def gather_all(value: T) -> list[T]:
    """Every rank's ``value`` (a picklable object), in rank order, on every rank (``[value]``
    in a world of one). A collective: every rank must call it."""
    if world_size() == 1:
        return [value]
    values: list[T | None] = [None] * world_size()
    dist.all_gather_object(values, value)
    return values  # type: ignore[return-value]


def shard(rows: Sequence[T], index: int, count: int) -> list[T]:
    """Share ``index`` of ``count`` of a global batch: every ``count``-th row from ``index``
    (what :func:`gather_rows` reassembles)."""
    return list(rows[index::count])


def finish() -> None:
    """Leave the process group once every rank has finished (nothing without one).

    A rank that exits while the others still hold the group open can abort in gloo's
    teardown ("terminate called without an active exception"), failing a run that finished.
    """
    if _grouped():
        if world_size() > 1:
            dist.barrier()
        dist.destroy_process_group()
