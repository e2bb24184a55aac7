"""Helpers shared by the environment tests: inverse kinematics and a scripted reacher."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering without a display

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from envs.arm_reach import ArmReachEnv  # noqa: E402


def solve_ik(
    env: ArmReachEnv, target: np.ndarray, start: np.ndarray, seed: int = 0, restarts: int = 8
) -> np.ndarray | None:
    """Joint angles (n,) within limits that put the end effector on `target`, or None.

    Damped least squares on the site Jacobian from `start`, then from random restarts.
    """
    arm, model = env.arm, env.model
    data = mujoco.MjData(model)
    low, high = arm.joint_range.T
    rng = np.random.default_rng(seed)
    jacobian = np.zeros((3, model.nv))
    for attempt in range(restarts + 1):
        q = start.copy() if attempt == 0 else rng.uniform(low, high)
        for _ in range(200):
            data.qpos[:] = arm.home_qpos
            data.qpos[arm.qpos_adr] = q
            mujoco.mj_fwdPosition(model, data)
            error = target - data.site_xpos[arm.ee_site_id]
            if np.linalg.norm(error) < 2e-3:
                return q
            mujoco.mj_jacSite(model, data, jacobian, None, arm.ee_site_id)
            j = jacobian[:, arm.qvel_adr]  # (3, n)
            step = j.T @ np.linalg.solve(j @ j.T + 1e-4 * np.eye(3), error)
            q = np.clip(q + np.clip(step, -0.3, 0.3), low, high)
    return None


def reach_with_ik(env: ArmReachEnv, max_steps: int) -> tuple[int | None, float]:
    """Drives a reset env towards the IK solution; (first successful step or None, distance)."""
    start = env.data.qpos[env.arm.qpos_adr].copy()
    goal = solve_ik(env, env.target_position, start)
    assert goal is not None, f"no IK solution for target {env.target_position}"
    distance = np.inf
    for step in range(1, max_steps + 1):
        action = np.clip((goal - env._servo_target) / env._max_delta, -1.0, 1.0)
        _, _, _, _, info = env.step(action)
        distance = info["distance"]
        if info["is_success"]:
            return step, distance
    return None, distance
