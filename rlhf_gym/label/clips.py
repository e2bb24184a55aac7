"""Arm clips for the browser: joint trajectories replayed as 3D points on a canvas.

Why a canvas replay and not video: a clip is ``L`` observations the loop already recorded,
whose first ``2n`` entries are the cos and sin of the joint angles (``RLHFGym/ArmReach-v0``'s
observation table). Setting those angles and running MuJoCo's forward kinematics gives every
body's position per frame, a few kilobytes per clip, with no OpenGL on the machine and no
encoding (docs/RESULTS.md has clips per second for both ways). The browser draws the bodies
as a stick figure with the target, and plays the two clips of a pair in sync.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

import envs  # noqa: F401  (registers RLHFGym/ArmReach-v0)
from rlhf_arm.prefs.segments import SegmentPool

ENV_FILE = "arm_env.json"
"""optional, in a labelling folder: ``{"id": ..., "kwargs": {...}}`` of the clips' env"""
DEFAULT_ENV = {"id": "RLHFGym/ArmReach-v0", "kwargs": {}}


def read_env_spec(folder: Path) -> dict[str, Any]:
    """The env the clips came from (the folder's ``arm_env.json``, else ArmReach's defaults)."""
    path = folder / ENV_FILE
    if not path.is_file():
        return dict(DEFAULT_ENV)
    spec = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(spec, dict) or not isinstance(spec.get("kwargs", {}), dict):
        raise ValueError(f"{path}: expected {{'id': ..., 'kwargs': {{...}}}}")
    return {"id": spec.get("id", DEFAULT_ENV["id"]), "kwargs": spec.get("kwargs", {})}


class ClipRenderer:
    """Forward kinematics of one arm model, turning segments into drawable frames.

    Args:
        env_spec: ``{"id", "kwargs"}`` of the env the segments were recorded in.
    """

    def __init__(self, env_spec: dict[str, Any]) -> None:
        # the reward plays no part in drawing, and a user's reward_fn may not import here
        kwargs = {k: v for k, v in env_spec["kwargs"].items() if k != "reward_fn"}
        env = gym.make(env_spec["id"], **kwargs)
        arm = env.unwrapped.arm  # ArmReachEnv's model and indices
        env.close()
        self.model, self.qpos_adr = arm.model, np.asarray(arm.qpos_adr)
        self.data = mujoco.MjData(self.model)
        self.data.qpos[:] = arm.home_qpos
        self.ee_site = arm.ee_site_id
        target_body = int(np.flatnonzero(self.model.body_mocapid == arm.target_mocap_id)[0])
        # every body but the world and the target, drawn as a line to its parent
        self.bodies = [b for b in range(1, self.model.nbody) if b != target_body]
        index = {body: i for i, body in enumerate(self.bodies)}
        self.parents = [index.get(int(self.model.body_parentid[b]), -1) for b in self.bodies]
        self.joints = len(self.qpos_adr)

    def frames(self, observations: np.ndarray) -> dict[str, Any]:
        """One clip's frames from its ``(L, D)`` observations.

        Returns:
            ``points``: ``(L, B + 1, 3)`` body positions then the fingertip (m, rounded to
            mm); ``target``: ``(L, 3)``; ``parents``: each body's parent among the points
            (-1: the world).
        """
        n = self.joints
        if observations.ndim != 2 or observations.shape[1] != 3 * n + 9:
            raise ValueError(
                f"clip observations of shape {observations.shape} do not fit a {n}-joint arm "
                f"(expected (L, {3 * n + 9}))"
            )
        angles = np.arctan2(observations[:, n : 2 * n], observations[:, :n])  # (L, n)
        points = np.empty((len(observations), len(self.bodies) + 1, 3))
        for step, joint_angles in enumerate(angles):
            self.data.qpos[self.qpos_adr] = joint_angles
            mujoco.mj_kinematics(self.model, self.data)
            points[step, :-1] = self.data.xpos[self.bodies]
            points[step, -1] = self.data.site_xpos[self.ee_site]
        target = observations[:, 3 * n + 3 : 3 * n + 6]
        return {
            "points": np.round(points, 3).tolist(),
            "target": np.round(target, 3).tolist(),
            "parents": self.parents,
        }


class ClipLibrary:
    """The clips of a labelling folder's segment files, rendered once and kept.

    Args:
        folder: the labelling folder (segment files are named relative to it).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._renderer: ClipRenderer | None = None
        self._pools: dict[str, tuple[SegmentPool, dict[str, int]]] = {}
        self._frames: dict[tuple[str, str], dict[str, Any]] = {}

    def pool(self, name: str) -> tuple[SegmentPool, dict[str, int]]:
        """A segment file of the folder and its id -> row map (read once)."""
        if name not in self._pools:
            path = (self.folder / name).resolve()
            if self.folder.resolve() not in path.parents:
                raise ValueError(f"segments file {name!r} is outside the labelling folder")
            pool = SegmentPool.load(path)
            self._pools[name] = (pool, pool.index_of())
        return self._pools[name]

    def clip(self, segments: str, segment_id: str) -> dict[str, Any]:
        """The frames of one segment (see :meth:`ClipRenderer.frames`), cached."""
        key = (segments, segment_id)
        if key not in self._frames:
            pool, rows = self.pool(segments)
            if segment_id not in rows:
                raise KeyError(f"segment {segment_id!r} is not in {segments}")
            if self._renderer is None:
                self._renderer = ClipRenderer(read_env_spec(self.folder))
            self._frames[key] = self._renderer.frames(pool.observations[rows[segment_id]])
        return self._frames[key]
