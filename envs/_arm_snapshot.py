"""Snapshots of one `ArmReachEnv` for an exact resume (`agents.checkpoint` saves them)."""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np


class ArmSnapshotMixin:
    """`get_sim_state` / `set_sim_state` of `ArmReachEnv`: physics plus the env's own state.

    The host class provides `model`, `data`, `_servo_target`, `_command`, `_obs_target` and
    `_randomizer` (None or an `envs.arm_randomize.PhysicsRandomizer`).
    """

    model: mujoco.MjModel
    data: mujoco.MjData
    _servo_target: np.ndarray
    _command: np.ndarray
    _obs_target: np.ndarray
    _randomizer: Any

    def get_sim_state(self) -> dict[str, Any]:
        """Everything the next `step` depends on, as copies.

        The MuJoCo integration state (time, qpos, qvel, act, warm start, ctrl, applied
        forces, mocap poses), the servo targets and commands, the target position and, with
        randomised physics, the episode's draws and the latency queue. With `set_sim_state`
        it lets `agents.checkpoint` resume a run bit for bit; the episode RNG (`np_random`)
        is saved separately by the caller.
        """
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        physics = np.empty(mujoco.mj_stateSize(self.model, spec))
        mujoco.mj_getState(self.model, self.data, physics, spec)
        state: dict[str, Any] = {
            "physics": physics,
            "servo_target": self._servo_target.copy(),
            "command": self._command.copy(),
            "target": self._obs_target.copy(),
        }
        if self._randomizer is not None:
            state["randomization"] = self._randomizer.get_state()
        return state

    def set_sim_state(self, state: dict[str, Any]) -> None:
        """Restores a `get_sim_state` snapshot taken on an env built with the same model."""
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        physics = np.asarray(state["physics"], dtype=np.float64)
        expected = mujoco.mj_stateSize(self.model, spec)
        if physics.shape != (expected,):
            raise ValueError(
                f"sim state has {physics.size} physics values, this model needs {expected}: "
                "was it saved from a different MJCF?"
            )
        mujoco.mj_setState(self.model, self.data, physics, spec)
        self._servo_target[:] = state["servo_target"]
        # snapshots from before commands existed: the command was the servo target
        self._command[:] = state.get("command", state["servo_target"])
        self._obs_target[:] = state["target"]
        if self._randomizer is not None and "randomization" in state:
            self._randomizer.set_state(state["randomization"])
        mujoco.mj_kinematics(self.model, self.data)
