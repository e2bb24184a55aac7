"""Ctrl-C at a chosen moment: SIGINT raised from inside the k-th call of a method.

The signal goes through the real handler that the training loops install
(:class:`agents.interrupt.DeferredInterrupt`), exactly as a user's Ctrl-C would.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Iterable
from typing import Any

import pytest

NOISY_KEYS = ("time/",)
"""metrics that measure the machine, not the run"""


def ctrl_c_at(
    monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, calls: Iterable[int]
) -> list[int]:
    """Patch ``owner.name`` to raise SIGINT after its k-th call for each k in ``calls``
    (1-based; two numbers give a second Ctrl-C). Returns the live call counter ``[n]``."""
    original = getattr(owner, name)
    at = set(calls)
    count = [0]

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        count[0] += 1
        if count[0] in at:
            signal.raise_signal(signal.SIGINT)
        return result

    monkeypatch.setattr(owner, name, wrapper)
    return count


def ctrl_c_when(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, predicate: Any) -> None:
    """Patch ``owner.name`` to raise SIGINT after any call for which ``predicate()`` holds."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if predicate():
            signal.raise_signal(signal.SIGINT)
        return result

    monkeypatch.setattr(owner, name, wrapper)


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Patch ``owner.name`` to count its calls; returns the live counter ``[n]``."""
    return ctrl_c_at(monkeypatch, owner, name, ())


def same_rows(a: list[dict[str, float]], b: list[dict[str, float]]) -> None:
    """The two runs' metrics rows are equal, timings aside."""
    assert len(a) == len(b)
    for row_a, row_b in zip(a, b, strict=True):
        keep_a = {k: v for k, v in row_a.items() if not k.startswith(NOISY_KEYS)}
        keep_b = {k: v for k, v in row_b.items() if not k.startswith(NOISY_KEYS)}
        assert keep_a == keep_b
