"""Which process this is in a multi-process run, and the few collectives a checkpoint needs.

A run launched by the ``deepspeed`` launcher or torchrun has a ``torch.distributed`` process
group (DeepSpeed's engine starts it); everything else is a world of one, where these
functions are no-ops. Nothing here starts a process group.
"""

from __future__ import annotations

from typing import TypeVar

import torch.distributed as dist

T = TypeVar("T")


def _grouped() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's global rank (0 without a process group)."""
    return dist.get_rank() if _grouped() else 0


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
