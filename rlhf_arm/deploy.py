"""`rlhf-gym arm deploy`: an exported policy drives an arm at a fixed rate, with safety.

One tick, every `control_period` seconds (from `policy.json`)::

    read joint positions      driver.read_positions() -> q (rad), when read
    watchdog                  a reading older than `watchdog` s: hold and stop
    observation               cos q, sin q, dq/dt, fingertip = FK(q), target, target - fingertip
    action                    policy.onnx (ONNX Runtime) or policy.npz (numpy)
    goal                      goal += action * max_delta, as in training (joint_target:
                              goal = middle + action * half-range of the limits)
    safety                    clamp to the joint limits (less a margin), then to `max_step`
                              per tick from the previous goal
    send                      driver.send_goal(goal)

Ctrl-C sends the last read positions as the goal (the arm holds where it is), closes the
driver and returns the summary: the loop exits cleanly, not by a traceback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import gymnasium as gym
import mujoco
import numpy as np

import envs  # noqa: F401 - registers the ids
from rlhf_arm.drivers import ArmDriver, LeRobotDriver, SimArmDriver


@dataclass
class DeployConfig:
    """How the deploy loop runs."""

    seconds: float = 10.0
    """how long to run"""
    target: tuple[float, float, float] | None = None
    """one fixed target (m); None: random targets in the workspace"""
    target_every: float = 3.0
    """seconds per random target"""
    seed: int = 0
    """seeds the random targets"""
    runtime: Literal["onnx", "numpy"] = "onnx"
    """policy.onnx through ONNX Runtime, or policy.npz through numpy"""
    max_step: float | None = None
    """largest goal change per tick (rad); None: the policy's own max_delta"""
    watchdog: float | None = None
    """a reading older than this (s) stops the loop, holding the arm; None: 3 periods"""
    joint_margin: float = 0.02
    """goals stay this far (rad) inside the joint limits"""

    def __post_init__(self) -> None:
        if self.seconds <= 0 or self.target_every <= 0:
            raise ValueError("--seconds and --target-every must be > 0")
        if self.max_step is not None and self.max_step <= 0:
            raise ValueError(f"--max-step must be > 0, got {self.max_step}")
        if self.watchdog is not None and self.watchdog <= 0:
            raise ValueError(f"--watchdog must be > 0, got {self.watchdog}")


@runtime_checkable
class MeasuresFingertip(Protocol):
    """A driver that knows the true fingertip (the sim; a real arm would need a camera)."""

    def fingertip(self) -> np.ndarray: ...


def load_policy(policy_dir: str | Path, runtime: str) -> tuple[Callable, dict[str, Any]]:
    """The exported policy (observation -> action) and its `policy.json`."""
    folder = Path(policy_dir)
    if not (folder / "policy.json").is_file():
        raise FileNotFoundError(f"{folder} is not an export folder: no policy.json (arm export)")
    description = json.loads((folder / "policy.json").read_text())
    if runtime == "onnx":
        from rlhf_arm.export import OnnxPolicy

        return OnnxPolicy(folder), description
    from rlhf_arm.numpy_policy import NumpyPolicy

    return NumpyPolicy(folder), description


class DeployLoop:
    """The fixed-rate loop of the module docstring over one `ArmDriver`."""

    def __init__(
        self,
        policy_dir: str | Path,
        driver: ArmDriver,
        config: DeployConfig,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy, self.description = load_policy(policy_dir, config.runtime)
        self.driver, self.config, self._clock, self._sleep = driver, config, clock, sleep
        names = tuple(self.description["joint_names"])
        if tuple(driver.joint_names) != names:
            raise ValueError(
                f"the driver's joints {driver.joint_names} are not the policy's {names}"
            )
        # the policy's own arm model: forward kinematics of the readings, and the workspace
        env = gym.make(self.description["env_id"], **self.description["env_kwargs"]).unwrapped
        self._env, self._arm = env, env.arm
        self._fk = mujoco.MjData(env.arm.model)
        self._fk.qpos[:] = env.arm.home_qpos
        limits = np.array(self.description["joint_limits"])
        self._low = limits[:, 0] + config.joint_margin
        self._high = limits[:, 1] - config.joint_margin
        self.period = float(self.description["control_period"])
        self._max_delta = float(self.description["max_delta"])
        self._max_step = config.max_step or self._max_delta
        mode = self.description.get("control_mode", "position")
        if mode not in ("position", "joint_target"):
            raise ValueError(f"arm deploy sends goal positions; this policy is {mode}-controlled")
        self._absolute = mode == "joint_target"
        self._middle, self._half = limits.mean(axis=1), (limits[:, 1] - limits[:, 0]) / 2
        self._watchdog = config.watchdog or 3 * self.period
        self._rng = np.random.default_rng(config.seed)

    def fingertip(self, angles: np.ndarray) -> np.ndarray:
        """Forward kinematics of joint angles on the policy's model. -> (3,)."""
        self._fk.qpos[self._arm.qpos_adr] = angles
        mujoco.mj_kinematics(self._arm.model, self._fk)
        return self._fk.site_xpos[self._arm.ee_site_id].copy()

    def observation(
        self, angles: np.ndarray, velocity: np.ndarray, target: np.ndarray
    ) -> np.ndarray:
        """The env's observation layout from readings (`envs/arm_reach.py`). -> (3n + 9,)."""
        tip = self.fingertip(angles)
        return np.concatenate([np.cos(angles), np.sin(angles), velocity, tip, target, target - tip])

    def safe_goal(self, goal: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """Clamps a goal to the joint limits, then to `max_step` from the previous goal."""
        goal = np.clip(goal, self._low, self._high)
        return previous + np.clip(goal - previous, -self._max_step, self._max_step)

    def _goal_from(self, action: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """The policy's goal before the safety clamps, as the env's control mode says."""
        if self._absolute:
            return self._middle + action * self._half
        return goal + action * self._max_delta

    def _next_target(self) -> np.ndarray:
        if self.config.target is not None:
            return np.asarray(self.config.target, np.float64)
        return self._env.workspace.sample(self._rng)

    def run(self) -> dict[str, Any]:
        """Runs for `config.seconds` (or until Ctrl-C or a stale reading); returns a summary."""
        driver, config = self.driver, self.config
        angles, stamp = driver.read_positions()
        goal = np.clip(angles, self._low, self._high)
        velocity = np.zeros_like(angles)
        start = self._clock()
        target, target_start = self._next_target(), start
        compute, distances, ticks, overruns, stopped = [], [], 0, 0, "finished"
        try:
            while (now := self._clock()) - start < config.seconds:
                previous_angles, previous_stamp = angles, stamp
                angles, stamp = driver.read_positions()
                if now - stamp > self._watchdog:
                    stopped = f"stale readings ({now - stamp:.3f} s old): holding the arm"
                    break
                if stamp > previous_stamp:
                    velocity = (angles - previous_angles) / (stamp - previous_stamp)
                if config.target is None and now - target_start >= config.target_every:
                    distances.append(self._distance(angles, target))
                    target, target_start = self._next_target(), now
                began = time.perf_counter()
                action = np.asarray(self.policy(self.observation(angles, velocity, target)))
                goal = self.safe_goal(self._goal_from(action.astype(np.float64), goal), goal)
                compute.append(time.perf_counter() - began)
                driver.send_goal(goal)
                ticks += 1
                wait = start + ticks * self.period - self._clock()
                if wait > 0:
                    self._sleep(wait)
                else:
                    overruns += 1
        except KeyboardInterrupt:
            stopped = "interrupted (Ctrl-C): holding the arm"
        driver.send_goal(np.clip(angles, self._low, self._high))  # hold where it is
        distances.append(self._distance(angles, target))
        driver.close()
        return self._summary(ticks, overruns, compute, distances, stopped)

    def _distance(self, angles: np.ndarray, target: np.ndarray) -> float:
        tip = self.driver.fingertip() if isinstance(self.driver, MeasuresFingertip) else None
        tip = self.fingertip(angles) if tip is None else tip
        return float(np.linalg.norm(target - tip))

    def _summary(
        self, ticks: int, overruns: int, compute: list[float], distances: list[float], stopped: str
    ) -> dict[str, Any]:
        threshold = float(self.description.get("success_threshold", 0.05))
        times = np.array(compute) * 1e3 if compute else np.array([np.nan])
        return {
            "stopped": stopped,
            "ticks": ticks,
            "control_period_s": self.period,
            "overruns": overruns,
            "tick_compute_ms_median": float(np.median(times)),
            "tick_compute_ms_p99": float(np.percentile(times, 99)),
            "targets": len(distances),
            "final_distances_m": [round(d, 4) for d in distances],
            "success_rate": float(np.mean(np.array(distances) < threshold)),
        }


def make_driver(description: Mapping[str, Any], name: str, options: Mapping[str, Any]) -> ArmDriver:
    """The driver `--driver` names, from the export's description and the CLI's options."""
    if name == "sim":
        return SimArmDriver(
            description["env_kwargs"], perturb=options.get("perturb"),
            latency=float(options.get("latency") or 0.0), seed=int(options.get("seed") or 0),
        )  # fmt: skip
    if name == "lerobot":
        return LeRobotDriver(
            description["joint_names"], port=options.get("port"),
            calibration=options.get("calibration"),
        )  # fmt: skip
    raise ValueError(f"--driver must be sim or lerobot, got {name!r}")


def deploy_from_args(
    policy_dir: str | Path, driver_name: str, config: DeployConfig, options: Mapping[str, Any]
) -> dict[str, Any]:
    """`rlhf-gym arm deploy`: builds the driver and runs the loop."""
    _, description = load_policy(policy_dir, "numpy")
    driver = make_driver(description, driver_name, {**options, "seed": config.seed})
    return DeployLoop(policy_dir, driver, config).run()
