"""Argument and action checks of `ArmReachEnv` (and its vector env): errors name the value.

Nothing is clipped silently: an out-of-domain constructor argument or an unfit action is a
`ValueError` that says what is wrong.
"""

from __future__ import annotations

import math

import numpy as np

CONTROL_MODES = ("position", "joint_target", "torque")
ACTION_TOLERANCE = 1e-6
"""how far beyond [-1, 1] an action entry may be (float32 rounding) before it is an error"""


def check_args(
    control_mode: str,
    frame_skip: int,
    max_delta: float,
    success_threshold: float,
    reset_noise_scale: float,
    weights: dict[str, float],
) -> None:
    """Raises ValueError for a constructor argument out of its domain.

    Args:
        control_mode, frame_skip, max_delta, success_threshold, reset_noise_scale: as given
            to `ArmReachEnv`.
        weights: the reward weights by argument name; each must be finite.
    """
    if control_mode not in CONTROL_MODES:
        raise ValueError(f"control_mode must be one of {CONTROL_MODES}, got {control_mode!r}")
    if isinstance(frame_skip, bool) or not isinstance(frame_skip, (int, np.integer)):
        raise ValueError(f"frame_skip must be a positive int, got {frame_skip!r}")
    if frame_skip <= 0:
        raise ValueError(f"frame_skip must be a positive int, got {frame_skip!r}")
    for name, value in (("max_delta", max_delta), ("success_threshold", success_threshold)):
        if not (_is_real(value) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive and finite, got {value!r}")
    if not (_is_real(reset_noise_scale) and math.isfinite(reset_noise_scale)):
        raise ValueError(f"reset_noise_scale must be >= 0 and finite, got {reset_noise_scale!r}")
    if reset_noise_scale < 0:
        raise ValueError(f"reset_noise_scale must be >= 0 and finite, got {reset_noise_scale!r}")
    for name, weight in weights.items():
        if not (_is_real(weight) and math.isfinite(weight)):
            raise ValueError(f"{name} must be finite, got {weight!r}")


def _is_real(value: object) -> bool:
    """A real number, not a bool or a string (which `math.isfinite` would reject with a
    TypeError that does not name the argument)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def checked_action(action: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, list[float]]:
    """The action as a float64 array and as a list, or a ValueError saying what is wrong."""
    try:
        array = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"action must be numeric, got {action!r}") from error
    if array.shape != shape:
        raise ValueError(f"action must have shape {shape}, got {array.shape}")
    values = array.tolist()
    # The sum is NaN or inf if any entry is, so the three checks cover NaN, inf and range.
    bound = 1.0 + ACTION_TOLERANCE
    if not (math.isfinite(sum(values)) and max(values) <= bound and min(values) >= -bound):
        raise_bad_action(array)
    return array, values


def raise_bad_action(array: np.ndarray) -> None:
    """Raises the ValueError for an action (or a batch) with NaN, inf or an entry beyond 1."""
    if not np.isfinite(array).all():
        raise ValueError(f"action contains NaN or inf: {array}")
    raise ValueError(
        f"action {array} is outside the action space [-1, 1] (largest |a| = "
        f"{np.abs(array).max():.6g}); actions are not clipped"
    )
