"""Where `ArmReachEnv` may put its target: a spherical shell around the arm's shoulder pivot.

The shell is estimated once per model from forward kinematics (`mj_kinematics`) of random joint
configurations, so a user's own MJCF arm gets a workspace without any hand-written numbers:

- pivot: the anchor of the deepest controlled joint whose anchor never moves over the random
  configurations (for arm5.xml the shoulder, which sits on the base-yaw axis);
- max reach: the largest pivot-to-end-effector distance seen;
- the target shell: radii `reach_range[0] * max_reach` to `reach_range[1] * max_reach`;
- height: the target is at least `TARGET_MIN_HEIGHT` above the table (the plane z = 0);
- base yaw: when the first controlled joint turns about the vertical, the target's azimuth
  about that axis, measured from the direction the home pose faces at yaw 0, lies inside
  that joint's range (the arm reaches it facing forwards, not by leaning over backwards).

Targets are drawn uniformly in volume over that region by rejection sampling from its
bounding box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from envs._arm_model import TARGET_MIN_HEIGHT, ArmModel

_FK_SAMPLES = 2000
_BATCH = 32


@dataclass(frozen=True)
class Workspace:
    """A spherical shell around `pivot`, above the table, inside the base-yaw range.

    Attributes:
        pivot: Shoulder pivot in world coordinates (m). Shape (3,).
        max_reach: Largest pivot-to-end-effector distance over the sampled poses (m).
        inner_radius: Smallest target distance from the pivot (m).
        outer_radius: Largest target distance from the pivot (m).
        min_height: Smallest target height z (m).
        yaw_axis_xy: (x, y) of the vertical base-yaw axis, or None if unconstrained.
        yaw_zero_azimuth: Azimuth (rad) the home pose faces at yaw 0.
        yaw_sign: +1 if the yaw axis points up, -1 if down.
        yaw_range: (low, high) of the base-yaw joint (rad).
    """

    pivot: np.ndarray
    max_reach: float
    inner_radius: float
    outer_radius: float
    min_height: float = TARGET_MIN_HEIGHT
    yaw_axis_xy: np.ndarray | None = None
    yaw_zero_azimuth: float = 0.0
    yaw_sign: float = 1.0
    yaw_range: tuple[float, float] = (-math.pi, math.pi)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Which points lie in the workspace. points: (k, 3) -> (k,) bool."""
        radius = np.linalg.norm(points - self.pivot, axis=1)
        inside = (radius >= self.inner_radius) & (radius <= self.outer_radius)
        inside &= points[:, 2] >= self.min_height
        if self.yaw_axis_xy is not None:
            offset = points[:, :2] - self.yaw_axis_xy
            azimuth = np.arctan2(offset[:, 1], offset[:, 0])
            low, high = self.yaw_range
            # Angle needed at the base joint, taken modulo 2 pi into [low, low + 2 pi).
            yaw = np.mod(self.yaw_sign * (azimuth - self.yaw_zero_azimuth) - low, 2 * np.pi)
            inside &= yaw <= high - low
        return inside

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounding box (low, high) of the workspace, each shape (3,)."""
        low, high = self.pivot - self.outer_radius, self.pivot + self.outer_radius
        low[2] = max(low[2], self.min_height)
        return low, high

    def framing_camera(self) -> dict[str, Any]:
        """Free-camera settings that look at the workspace from the front-right, above."""
        lookat = self.pivot.copy()
        lookat[2] = max(lookat[2], 0.0)
        return {"lookat": lookat, "distance": 3.0 * self.max_reach, "elevation": -25.0,
                "azimuth": 135.0}  # fmt: skip

    def sample(self, rng: np.random.Generator, max_tries: int = 10_000) -> np.ndarray:
        """Draws one target uniformly in volume by rejection from the bounding box. -> (3,)."""
        low, high = self.bounds()
        for _ in range(max_tries // _BATCH + 1):
            candidates = rng.uniform(low, high, size=(_BATCH, 3))
            accepted = np.flatnonzero(self.contains(candidates))
            if accepted.size:
                return candidates[accepted[0]]
        raise RuntimeError(f"no target found in {max_tries} tries; workspace {self}")


def estimate_workspace(arm: ArmModel, reach_range: tuple[float, float], seed: int = 0) -> Workspace:
    """Estimates the target workspace from forward kinematics (see the module docstring).

    The random configurations come from their own generator seeded with `seed`, so every
    environment built from the same model gets the same workspace whatever its own seed.

    Raises:
        ValueError: `reach_range` is not 0 <= inner < outer <= 1, or the region is empty.
    """
    inner, outer = (float(r) for r in reach_range)
    if not 0.0 <= inner < outer <= 1.0:
        raise ValueError(
            f"target_reach_range must satisfy 0 <= inner < outer <= 1, got {reach_range}"
        )
    model = arm.model
    data = mujoco.MjData(model)
    joint_ids = [model.joint(name).id for name in arm.joint_names]
    low, high = arm.joint_range.T
    configurations = np.random.default_rng(seed).uniform(
        low, high, size=(_FK_SAMPLES, len(joint_ids))
    )
    anchors = np.empty((_FK_SAMPLES, len(joint_ids), 3))
    tips = np.empty((_FK_SAMPLES, 3))
    for i, q in enumerate(configurations):
        data.qpos[:] = arm.home_qpos
        data.qpos[arm.qpos_adr] = q
        mujoco.mj_kinematics(model, data)
        anchors[i] = data.xanchor[joint_ids]
        tips[i] = data.site_xpos[arm.ee_site_id]
    fixed = np.flatnonzero(np.ptp(anchors, axis=0).max(axis=1) < 1e-9)
    pivot = anchors[0, fixed[-1] if fixed.size else 0].copy()
    max_reach = float(np.linalg.norm(tips - pivot, axis=1).max())
    workspace = Workspace(pivot, max_reach, inner * max_reach, outer * max_reach)
    workspace = _with_base_yaw(workspace, arm, data, joint_ids[0])
    rng = np.random.default_rng(seed)
    if not workspace.contains(rng.uniform(*workspace.bounds(), size=(4096, 3))).any():
        raise ValueError(f"the target workspace is empty: {workspace}")
    return workspace


def _with_base_yaw(
    workspace: Workspace, arm: ArmModel, data: mujoco.MjData, first_joint: int
) -> Workspace:
    """Adds the base-yaw constraint if the first controlled joint turns about the vertical."""
    low, high = arm.joint_range[0]
    data.qpos[:] = arm.home_qpos
    data.qpos[arm.qpos_adr[0]] = 0.0
    mujoco.mj_kinematics(arm.model, data)
    axis, anchor = data.xaxis[first_joint], data.xanchor[first_joint]
    facing = data.site_xpos[arm.ee_site_id, :2] - anchor[:2]
    if abs(axis[2]) < 1 - 1e-6 or high - low >= 2 * np.pi or np.linalg.norm(facing) < 1e-3:
        return workspace
    return Workspace(
        workspace.pivot,
        workspace.max_reach,
        workspace.inner_radius,
        workspace.outer_radius,
        yaw_axis_xy=anchor[:2].copy(),
        yaw_zero_azimuth=float(np.arctan2(facing[1], facing[0])),
        yaw_sign=float(np.sign(axis[2])),
        yaw_range=(float(low), float(high)),
    )


def sample_start_pose(
    arm: ArmModel, scratch: mujoco.MjData, rng: np.random.Generator, tries: int = 50
) -> np.ndarray | None:
    """A uniformly random pose of the controlled joints that touches nothing. -> (n,) or None.

    Exploring starts (`ArmReachEnv(random_start_fraction=...)`): the other joints stay at
    home; a pose is kept when no geoms touch (the table or the arm itself) and the fingertip
    is at least `TARGET_MIN_HEIGHT` above the table. None after `tries` rejections.
    """
    low, high = arm.joint_range.T
    for _ in range(tries):
        pose = rng.uniform(low, high)
        scratch.qpos[:] = arm.home_qpos
        scratch.qpos[arm.qpos_adr] = pose
        mujoco.mj_forward(arm.model, scratch)
        if scratch.ncon == 0 and scratch.site_xpos[arm.ee_site_id, 2] >= TARGET_MIN_HEIGHT:
            return pose
    return None
