"""The servo side of `ArmReachEnv` in position mode: targets, and what the servo is sent.

A hobby servo arm's controller moves a goal position each control period; the servo then
follows at its own pace. The env keeps the policy's servo targets (moved by the actions,
clipped to the joint range) and the command actually sent, which may trail the target through
exponential smoothing and a speed cap (both off by default, then command = target).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def servo_frame_skip(timestep: float, frame_skip: int, control_period: float | None) -> int:
    """Physics steps per env step: `frame_skip`, or the whole number `control_period` needs.

    Raises:
        ValueError: `control_period` is not a positive whole multiple of `timestep`.
    """
    if control_period is None:
        return frame_skip
    if isinstance(control_period, bool) or not isinstance(control_period, (int, float)):
        raise ValueError(f"control_period must be a number of seconds, got {control_period!r}")
    steps = round(control_period / timestep)
    if steps < 1 or not math.isclose(steps * timestep, control_period, rel_tol=1e-6):
        raise ValueError(
            f"control_period {control_period} s is not a whole number of the model's "
            f"{timestep} s timesteps"
        )
    return int(steps)


def check_smoothing(smoothing: float) -> float:
    """`action_smoothing` as a float in [0, 1), or a ValueError."""
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)):
        raise ValueError(f"action_smoothing must be a number in [0, 1), got {smoothing!r}")
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"action_smoothing must be in [0, 1), got {smoothing!r}")
    return float(smoothing)


def check_fraction(fraction: float) -> float:
    """`random_start_fraction` as a float in [0, 1], or a ValueError."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        raise ValueError(f"random_start_fraction must be a number in [0, 1], got {fraction!r}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"random_start_fraction must be in [0, 1], got {fraction!r}")
    return float(fraction)


def per_joint_cap(
    max_joint_speed: float | Sequence[float] | None, n: int, dt: float
) -> np.ndarray | None:
    """The largest command change per step (rad), from a joint speed (rad/s). -> (n,) or None."""
    if max_joint_speed is None:
        return None
    speeds = np.broadcast_to(np.asarray(max_joint_speed, dtype=np.float64), (n,)).copy()
    if not (np.isfinite(speeds).all() and (speeds > 0).all()):
        raise ValueError(f"max_joint_speed must be positive and finite, got {max_joint_speed!r}")
    return speeds * dt


class ServoMixin:
    """Moves the servo targets and computes the command (`ArmReachEnv` and its vector env).

    The host class sets `_servo_target`, `_command` (each `(n,)`), `_max_delta`,
    `_range_low`, `_range_high`, `_smoothing` and `_max_step`.
    """

    _servo_target: np.ndarray
    _command: np.ndarray
    _max_delta: float
    _range_low: np.ndarray
    _range_high: np.ndarray
    _smoothing: float
    _max_step: np.ndarray | None
    _absolute: bool

    def _move_servo_targets(
        self, action: np.ndarray, target: np.ndarray | None = None
    ) -> np.ndarray:
        """Position mode: targets += action * max_delta, clipped to the joint range.

        Works in place on this env's `(n,)` targets or, from the vector env, on all its
        `(N, n)` rows at once (`target`).
        """
        target = self._servo_target if target is None else target
        if self._absolute:  # joint_target: the action spans each joint's range
            middle, half = (
                (self._range_high + self._range_low) / 2,
                (self._range_high - self._range_low) / 2,
            )
            np.add(middle, action * half, out=target)
            return target
        np.add(target, action * self._max_delta, out=target)
        np.minimum(target, self._range_high, out=target)
        np.maximum(target, self._range_low, out=target)
        return target

    def _servo_command(self, target: np.ndarray, command: np.ndarray | None = None) -> np.ndarray:
        """What the servo is sent: the target, smoothed and speed-capped when those are on.

        In place on this env's `(n,)` commands or the vector env's `(N, n)` rows (`command`).
        """
        if not self._smoothing and self._max_step is None:
            return target
        command = self._command if command is None else command
        step = target - command
        if self._smoothing:
            step *= 1.0 - self._smoothing
        if self._max_step is not None:
            np.clip(step, -self._max_step, self._max_step, out=step)
        command += step
        return command
