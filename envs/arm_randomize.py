"""Randomised physics for `ArmReachEnv`: a new arm every episode, drawn from a YAML spec.

Pass `randomization=` to the env (a mapping, or the path of a YAML file holding one, such as
`configs/arm/physics/randomization.yaml`). At every reset the env draws, from its own seeded
`np_random` (so `reset(seed=s)` fixes the draws):

| key | draw | applied to |
|---|---|---|
| `mass_scale: [lo, hi]` | U(lo, hi) per moving body | body mass and inertia |
| `damping_scale: [lo, hi]` | U(lo, hi) per joint | joint damping |
| `friction_scale: [lo, hi]` | U(lo, hi) per joint | joint friction loss |
| `gain_scale: [lo, hi]` | U(lo, hi) per joint | servo kp and kv (torque: the limit) |
| `calibration_offset: x` | U(-x, x) rad per joint | read = true + offset; sent = command - offset |
| `observation_noise: s` | N(0, s) rad per joint, step | the read angles (and fingertip from them) |
| `latency_steps: [lo, hi]` | integer in [lo, hi] | actions act that many steps late |
| `control_period_jitter: x` | U(-x, x) of the period | physics steps of each control step |

Every key is optional; a missing one draws nothing (the nominal value). With calibration
offsets or noise the observation is what a real arm's deploy loop computes: cos/sin of the
*read* angles, velocities by finite differences of them, and the fingertip by forward
kinematics of them (`mj_kinematics` on a second `MjData`); the reward and success use the
true fingertip. Every draw is returned by
`PhysicsRandomizer.draw`, reported in the reset `info["randomization"]` and, with `log_file`,
appended to a JSONL file (one line per episode, with the episode's index).
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
import yaml

from configs import resolve_config


@dataclass(frozen=True)
class RandomizationConfig:
    """What to randomise per episode (see the module docstring); None draws nothing."""

    mass_scale: tuple[float, float] | None = None
    damping_scale: tuple[float, float] | None = None
    friction_scale: tuple[float, float] | None = None
    gain_scale: tuple[float, float] | None = None
    calibration_offset: float = 0.0
    observation_noise: float = 0.0
    latency_steps: tuple[int, int] = (0, 0)
    control_period_jitter: float = 0.0
    log_file: str | None = None

    @classmethod
    def from_value(cls, value: Mapping[str, Any] | str | Path) -> RandomizationConfig:
        """From a mapping or a YAML file; an unknown key or a bad range is a ValueError."""
        if isinstance(value, (str, Path)):
            path = Path(value).expanduser()
            if not path.is_file():  # a shipped config by name ("sim_to_sim", "randomization")
                try:
                    path = resolve_config(str(value))
                except FileNotFoundError as error:
                    raise FileNotFoundError(
                        f"randomization file not found: {value} (nor a shipped config)"
                    ) from error
            value = yaml.safe_load(path.read_text()) or {}
        if not isinstance(value, Mapping):
            raise ValueError(f"randomization must be a mapping or a YAML file, got {value!r}")
        known = {f.name for f in fields(cls)}
        for key in value:
            if key not in known:
                raise ValueError(f"randomization.{key}: unknown key; known: {sorted(known)}")
        kwargs: dict[str, Any] = {}
        for key in ("mass_scale", "damping_scale", "friction_scale", "gain_scale"):
            if value.get(key) is not None:
                kwargs[key] = _range(key, value[key], low_bound=0.0)
        for key in ("calibration_offset", "observation_noise", "control_period_jitter"):
            if value.get(key) is not None:
                number = value[key]
                if isinstance(number, bool) or not isinstance(number, (int, float)):
                    raise ValueError(f"randomization.{key} must be a number, got {number!r}")
                if not (math.isfinite(number) and 0 <= number < (1 if "jitter" in key else 1e3)):
                    raise ValueError(f"randomization.{key} out of range: {number!r}")
                kwargs[key] = float(number)
        if value.get("latency_steps") is not None:
            steps = value["latency_steps"]
            steps = [steps, steps] if isinstance(steps, int) else steps
            low, high = _range("latency_steps", steps, low_bound=0.0)
            if low != int(low) or high != int(high):
                raise ValueError(f"randomization.latency_steps must be integers, got {steps!r}")
            kwargs["latency_steps"] = (int(low), int(high))
        if value.get("log_file") is not None:
            kwargs["log_file"] = str(value["log_file"])
        return cls(**kwargs)


def _range(key: str, value: Any, low_bound: float) -> tuple[float, float]:
    """A [low, high] pair with low_bound <= low <= high, or a ValueError naming the key."""
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise ValueError(f"randomization.{key} must be a pair [low, high], got {value!r}")
    low, high = float(value[0]), float(value[1])
    if not (math.isfinite(low) and math.isfinite(high) and low_bound <= low <= high):
        raise ValueError(f"randomization.{key} must satisfy {low_bound} <= low <= high: {value!r}")
    return low, high


class PhysicsRandomizer:
    """Draws and applies one episode's physics on an arm's model; filters actions and readings.

    Args:
        config: What to randomise.
        model: The env's compiled model (changed in place at every draw).
        qpos_adr, dof_adr, actuator_ids: The controlled joints' addresses, each shape (n,).
        ee_site_id: The fingertip site (for the fingertip of the read angles).
        position_mode: Servo actuators (kp, kv) rather than motors (a torque limit).
    """

    def __init__(
        self,
        config: RandomizationConfig,
        model: mujoco.MjModel,
        qpos_adr: np.ndarray,
        dof_adr: np.ndarray,
        actuator_ids: np.ndarray,
        ee_site_id: int,
        position_mode: bool,
    ) -> None:
        self.config, self.model = config, model
        self._qpos_adr, self._dof_adr, self._actuators = qpos_adr, dof_adr, actuator_ids
        self._ee_site_id, self._position_mode = ee_site_id, position_mode
        n = len(qpos_adr)
        self._bodies = np.flatnonzero(
            (np.arange(model.nbody) > 0) & (model.body_mocapid < 0) & (model.body_mass > 0)
        )
        self._mass0, self._inertia0 = model.body_mass.copy(), model.body_inertia.copy()
        self._damping0 = model.dof_damping[dof_adr].copy()
        self._friction0 = model.dof_frictionloss[dof_adr].copy()
        self._gain0 = model.actuator_gainprm[actuator_ids].copy()
        self._bias0 = model.actuator_biasprm[actuator_ids].copy()
        self._fk_data = mujoco.MjData(model)  # forward kinematics of the read angles
        self.offset = np.zeros(n)
        self.latency = 0
        self._queue: deque[np.ndarray] = deque()
        self.episode = 0
        self.last_draw: dict[str, Any] = {}

    @classmethod
    def for_arm(
        cls, value: Mapping[str, Any] | str | Path, model: mujoco.MjModel, arm: Any, position: bool
    ) -> PhysicsRandomizer:
        """From a config value (mapping or YAML path) and an `envs._arm_model.ArmModel`."""
        config = RandomizationConfig.from_value(value)
        return cls(
            config, model, arm.qpos_adr, arm.qvel_adr, arm.actuator_ids, arm.ee_site_id, position
        )

    @property
    def reads_differ(self) -> bool:
        """Whether read angles differ from the true ones (offsets or noise are on)."""
        return self.config.calibration_offset > 0 or self.config.observation_noise > 0

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draws and applies a new episode's physics; returns the draws (also `last_draw`)."""
        config, model, n = self.config, self.model, len(self._qpos_adr)
        draws: dict[str, Any] = {}

        def scale(key: str, size: int) -> np.ndarray:
            bounds = getattr(config, key)
            values = np.ones(size) if bounds is None else rng.uniform(*bounds, size=size)
            if bounds is not None:
                draws[key] = values
            return values

        mass = scale("mass_scale", len(self._bodies))
        model.body_mass[self._bodies] = self._mass0[self._bodies] * mass
        model.body_inertia[self._bodies] = self._inertia0[self._bodies] * mass[:, None]
        model.dof_damping[self._dof_adr] = self._damping0 * scale("damping_scale", n)
        model.dof_frictionloss[self._dof_adr] = self._friction0 * scale("friction_scale", n)
        gain = scale("gain_scale", n)[:, None]
        model.actuator_gainprm[self._actuators] = self._gain0 * gain
        model.actuator_biasprm[self._actuators] = self._bias0 * gain
        self.offset = rng.uniform(-1, 1, size=n) * config.calibration_offset
        if config.calibration_offset > 0:
            draws["calibration_offset"] = self.offset.copy()
        low, high = config.latency_steps
        self.latency = int(rng.integers(low, high + 1)) if high > 0 else 0
        if high > 0:
            draws["latency_steps"] = self.latency
        self._queue = deque(np.zeros(n) for _ in range(self.latency))
        self._last_read: np.ndarray | None = None
        self.episode += 1
        self.last_draw = draws
        if config.log_file:
            self._log(draws)
        return draws

    def _log(self, draws: dict[str, Any]) -> None:
        row = {"episode": self.episode, **{k: np.asarray(v).tolist() for k, v in draws.items()}}
        with open(self.config.log_file, "a") as file:
            file.write(json.dumps(row) + "\n")

    def delay(self, action: np.ndarray) -> np.ndarray:
        """The action that acts now: the one given `latency` steps ago (zeros at first)."""
        if not self.latency:
            return action
        self._queue.append(np.array(action, dtype=np.float64))
        return self._queue.popleft()

    def frame_skip(self, nominal: int, rng: np.random.Generator) -> int:
        """Physics steps of this control step: the nominal count, jittered."""
        jitter = self.config.control_period_jitter
        if not jitter:
            return nominal
        return max(1, round(nominal * (1.0 + rng.uniform(-jitter, jitter))))

    def read_angles(self, angles: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """What the arm's encoders report: true angles + calibration offset + noise."""
        noise = self.config.observation_noise
        read = angles + self.offset
        return read + rng.normal(0.0, noise, size=read.shape) if noise else read

    def read_velocity(self, read_angles: np.ndarray, dt: float) -> np.ndarray:
        """Joint velocities as a deploy loop gets them: finite differences of the readings
        (zeros at the episode's first reading, when the arm is at rest)."""
        last, self._last_read = self._last_read, read_angles.copy()
        return np.zeros_like(read_angles) if last is None else (read_angles - last) / dt

    def fingertip(self, qpos: np.ndarray, read_angles: np.ndarray) -> np.ndarray:
        """The fingertip by forward kinematics of the read angles. -> (3,)."""
        data = self._fk_data
        data.qpos[:] = qpos
        data.qpos[self._qpos_adr] = read_angles
        mujoco.mj_kinematics(self.model, data)
        return data.site_xpos[self._ee_site_id].copy()

    def get_state(self) -> dict[str, Any]:
        """The episode's draws and the latency queue (for an exact resume)."""
        queue = np.array(list(self._queue)).reshape(len(self._queue), len(self._qpos_adr))
        return {
            "model": {
                "body_mass": self.model.body_mass.copy(),
                "body_inertia": self.model.body_inertia.copy(),
                "dof_damping": self.model.dof_damping.copy(),
                "dof_frictionloss": self.model.dof_frictionloss.copy(),
                "actuator_gainprm": self.model.actuator_gainprm.copy(),
                "actuator_biasprm": self.model.actuator_biasprm.copy(),
            },
            "offset": self.offset.copy(),
            "queue": queue,
            "last_read": np.zeros(0) if self._last_read is None else self._last_read.copy(),
            "episode": np.array(self.episode),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores `get_state`'s snapshot."""
        for key, value in state["model"].items():
            getattr(self.model, key)[...] = value
        self.offset = np.array(state["offset"], dtype=np.float64)
        self._queue = deque(np.array(row, dtype=np.float64) for row in state["queue"])
        last = state.get("last_read")
        self._last_read = None if last is None or len(last) == 0 else np.array(last, np.float64)
        self.latency = len(self._queue)
        self.episode = int(state["episode"])
