"""How many CPU threads torch and numpy's BLAS use: for the whole process, or for a block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits


def _check(threads: int) -> None:
    if threads < 1:
        raise ValueError(f"torch_threads must be >= 1, got {threads}")


def limit_cpu_threads(threads: int) -> None:
    """Run torch's CPU ops and numpy's BLAS (the matmuls of the closed-form PPO gradient,
    :mod:`agents.gaussian_grad`) on at most ``threads`` threads each, for the whole process.

    OpenBLAS would otherwise start one thread per core for a ``(256, 64)`` matmul, which on a
    shared or pinned core costs more than it saves; 1 is what this repository's timings use.
    """
    _check(threads)
    torch.set_num_threads(threads)
    threadpool_limits(threads, user_api="blas")


@contextmanager
def cpu_threads(threads: int) -> Iterator[None]:
    """:func:`limit_cpu_threads` inside the ``with`` block only; torch's and BLAS's thread
    counts are put back on the way out, exception or not."""
    _check(threads)
    before = torch.get_num_threads()
    with threadpool_limits(threads, user_api="blas"):  # restores BLAS's own counts on exit
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)
