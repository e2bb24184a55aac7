"""`ArmReachEnv`'s `reward_fn`: a user's reward, checked when the env is built and at each call."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from envs.rewards import resolve_callable
from envs.rewards.resolve import check_call_signature

ARGUMENTS = ("observation", "action", "info")


class UserReward:
    """`reward_fn(observation, action, info) -> float`, named by callable or import path.

    Args:
        spec: A callable, or an import path ``"package.module:function"``.

    Raises:
        ValueError: When the import path does not resolve, or the callable cannot take the
            three arguments (checked now, not at the first step).
    """

    def __init__(self, spec: Callable[..., Any] | str) -> None:
        self.function = resolve_callable(spec)
        self.name = spec if isinstance(spec, str) else qualified_name(self.function)
        check_call_signature(self.function, ARGUMENTS, f"reward_fn {self.name}")

    def __call__(self, observation: np.ndarray, action: np.ndarray, info: dict[str, Any]) -> float:
        """Calls `reward_fn` and checks that it returned one finite real number."""
        value = self.function(observation, action, info)
        if isinstance(value, (str, bytes, bool, np.bool_)) or np.ndim(value) != 0:
            raise ValueError(
                f"reward_fn {self.name} must return a finite float, got "
                f"{type(value).__name__} {value!r}"
            )
        try:
            reward = float(value)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"reward_fn {self.name} must return a finite float, got {value!r}"
            ) from error
        if not math.isfinite(reward):
            raise ValueError(f"reward_fn {self.name} returned {reward}, not finite")
        return reward


def qualified_name(function: Callable[..., Any]) -> str:
    """module.qualname of a function, for error messages."""
    qualname = getattr(function, "__qualname__", type(function).__name__)
    return f"{getattr(function, '__module__', '?')}.{qualname}"


class RewardTermsMixin:
    """The default reward of `ArmReachEnv` and its info terms (see its docstring)."""

    _success_threshold: float
    _reward_dist_weight: float
    _reward_control_weight: float
    _success_bonus: float

    def _reward_terms(self, distance: Any, action_sq_sum: Any) -> tuple[Any, dict[str, Any]]:
        """The default reward and the info terms, from floats or from `(N,)` arrays alike."""
        is_success = distance < self._success_threshold
        reward_dist = -self._reward_dist_weight * distance
        reward_ctrl = -self._reward_control_weight * action_sq_sum
        reward_success = self._success_bonus * is_success
        info = {
            "reward_dist": reward_dist,
            "reward_ctrl": reward_ctrl,
            "reward_success": reward_success,
            "distance": distance,
            "is_success": is_success,
        }
        return reward_dist + reward_ctrl + reward_success, info
