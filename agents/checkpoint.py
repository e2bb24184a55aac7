"""Checkpoints that let a stopped run resume exactly: weights, optimiser, RNGs, env state.

A checkpoint is one ``torch.save`` file written atomically (temporary file then
``os.replace``), so a crash mid-write leaves the previous checkpoint intact.

Exact resumption also needs the environments' state. A vector env with its own
``get_sim_state() -> dict`` and ``set_sim_state(dict)`` (``ArmReachVectorEnv``) snapshots
itself. For a ``SyncVectorEnv`` whose sub-envs implement them (ArmReach does), the snapshot
holds each sub-env's simulator state, its ``np_random`` state and the plain scalar attributes
of every wrapper (``TimeLimit``'s step counter, ...). Other envs resume from a fresh seeded
reset instead, and :func:`env_snapshot` says so by returning None.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch


def capture_rng() -> dict[str, Any]:
    """The global Python, NumPy and torch RNG states."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }


def restore_rng(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])


def _wrapper_scalars(env: gym.Env) -> list[dict[str, Any]]:
    chain = []
    while isinstance(env, gym.Wrapper):
        chain.append({k: v for k, v in vars(env).items() if isinstance(v, (bool, int, float))})
        env = env.env
    return chain


def env_snapshot(env: gym.vector.VectorEnv) -> dict[str, Any] | None:
    """The state of a snapshot-able vector env (see the module docstring), or None."""
    if callable(getattr(env, "get_sim_state", None)):
        return {"vector": env.get_sim_state()}
    if not isinstance(env, gym.vector.SyncVectorEnv):
        return None
    subs = []
    for sub in env.envs:
        base = sub.unwrapped
        if not hasattr(base, "get_sim_state"):
            return None
        subs.append(
            {
                "sim": base.get_sim_state(),
                "np_random": base.np_random.bit_generator.state,
                "wrappers": _wrapper_scalars(sub),
            }
        )
    return {"subs": subs, "autoreset": env._autoreset_envs.copy()}


def restore_env_snapshot(env: gym.vector.VectorEnv, snapshot: dict[str, Any]) -> bool:
    """Put ``env`` (built with the same config) back into the snapshot's state.

    Returns False, changing nothing, when ``env`` is not the kind of vector env the snapshot
    was taken from (e.g. a run saved with ``vectorization=sync`` resumed with ``native``).
    """
    if "vector" in snapshot:
        if not callable(getattr(env, "set_sim_state", None)):
            return False
        env.set_sim_state(snapshot["vector"])
        return True
    if not isinstance(env, gym.vector.SyncVectorEnv):
        return False
    if len(snapshot["subs"]) != len(env.envs):
        raise ValueError(f"snapshot has {len(snapshot['subs'])} envs, env has {len(env.envs)}")
    for sub, saved in zip(env.envs, snapshot["subs"], strict=True):
        wrapper = sub
        for scalars in saved["wrappers"]:
            for key, value in scalars.items():
                setattr(wrapper, key, value)
            wrapper = wrapper.env
        base = sub.unwrapped
        base.np_random.bit_generator.state = saved["np_random"]
        base.set_sim_state(saved["sim"])
    env._autoreset_envs = snapshot["autoreset"].copy()
    return True


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (a clear error if it is not one)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        # our own files hold numpy arrays and RNG tuples, so full unpickling is needed
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise ValueError(f"{path} is not a readable checkpoint: {err}") from err
