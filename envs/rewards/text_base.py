"""What every text reward shares: the `TextReward` protocol and the checks of its inputs and
scores. Both `envs.rewards.text` (the rules) and `envs.rewards.reward_model` (a model's
score) build on it, so neither imports the other at module level.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["TextReward", "check_scores", "check_texts", "reward_name"]


@runtime_checkable
class TextReward(Protocol):
    """Scores a batch of responses to their prompts."""

    def score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        """Returns the scores, float64 of shape (n,), for n prompts and their n responses."""
        ...


def check_texts(prompts: Sequence[str], responses: Sequence[str]) -> tuple[list[str], list[str]]:
    """Returns `prompts` and `responses` as lists after checking they pair up.

    Raises:
        ValueError: If either is a bare string, holds a non-string, or their lengths differ.
    """
    checked = []
    for label, texts in (("prompts", prompts), ("responses", responses)):
        if isinstance(texts, str | bytes):
            raise ValueError(f"{label} must be a list of strings, got a single {type(texts)}")
        texts = list(texts)
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise ValueError(f"{label}[{row}] must be a str, got {type(text).__name__}")
        checked.append(texts)
    if len(checked[0]) != len(checked[1]):
        raise ValueError(f"got {len(checked[0])} prompts but {len(checked[1])} responses")
    return checked[0], checked[1]


def check_scores(scores: Any, n: int, name: str) -> np.ndarray:
    """Returns `scores` as a float64 array of shape (n,), naming the reward if they are unfit.

    Args:
        scores: What a reward returned: a sequence or 1-D array of real numbers (bools count).
        n: The number of (prompt, response) pairs scored.
        name: The reward's name, for the error message.

    Raises:
        ValueError: Naming `name`, if the scores are not numeric, not 1-D, not n of them, or
            any is NaN or infinite.
    """
    try:
        array = np.asarray(scores)
        if array.dtype.kind == "O":  # e.g. 0-d tensors; float() rejects None and str
            array = np.array([float(value) for value in array.ravel()]).reshape(array.shape)
    except (TypeError, ValueError) as error:
        raise ValueError(f"reward {name!r} returned non-numeric scores: {error}") from error
    if array.dtype.kind not in "biuf":
        raise ValueError(f"reward {name!r} returned non-numeric scores of dtype {array.dtype}")
    if array.shape != (n,):
        raise ValueError(f"reward {name!r} returned scores of shape {array.shape}, expected ({n},)")
    array = array.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(f"reward {name!r} returned {array[bad[0]]} for row {bad[0]}")
    return array


def reward_name(reward: object) -> str:
    """The name a reward is logged under: its `name` attribute if it has a string one, else a
    function's `__name__`, else its class name in snake_case (`LengthWindow` -> `length_window`).
    """
    name = getattr(reward, "name", None)
    if isinstance(name, str) and name:
        return name
    if inspect.isfunction(reward) or inspect.isbuiltin(reward) or inspect.ismethod(reward):
        return reward.__name__
    class_name = type(reward).__name__
    class_name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", class_name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", class_name).lower()


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _check_real(name: str, value: Any, minimum: float | None = None) -> None:
    is_real = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_real or not math.isfinite(value) or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
