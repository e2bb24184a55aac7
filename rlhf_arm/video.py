"""Film a policy offscreen (``rlhf-gym arm video``) on an OpenGL backend that works here.

MuJoCo renders offscreen through EGL (a GPU driver or Mesa's EGL) or OSMesa (software).
PyOpenGL binds its platform when it is first imported, so :func:`ensure_gl_backend` settles
``MUJOCO_GL`` before anything renders: the value the user set, else the first of ``egl``,
``osmesa`` (and ``glfw`` where a display is set) that can make a MuJoCo render context in a
fresh subprocess, so that a failed try leaves this process unbound. Without any, the error
says what to install.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import gymnasium as gym
import numpy as np
import torch

import envs

if TYPE_CHECKING:  # the annotations only: experiment.py imports this module
    from agents.gaussian import GaussianActorCritic
    from rlhf_arm.experiment import EnvConfig

GL_BACKENDS = ("egl", "osmesa")
"""tried in this order when ``MUJOCO_GL`` is not set (``glfw`` last, with a display)"""
INSTALL_HINT = (
    "install EGL (apt-get install -y libegl1) or OSMesa (apt-get install -y libosmesa6), "
    "or set MUJOCO_GL to a backend that works here"
)
# What rendering needs: a current GL context and a MuJoCo render context on it.
_PROBE = """
import mujoco
from mujoco.{backend} import GLContext
context = GLContext(16, 16)
context.make_current()
model = mujoco.MjModel.from_xml_string("<mujoco/>")
mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
context.free()
"""
_PROBE_SECONDS = 60


def backend_works(backend: str) -> bool:
    """Whether ``MUJOCO_GL=backend`` can make a MuJoCo render context (tried in a subprocess)."""
    env = {**os.environ, "MUJOCO_GL": backend}
    env.pop("PYOPENGL_PLATFORM", None)  # mujoco.egl / mujoco.osmesa set their own
    try:
        result = subprocess.run(
            [sys.executable, "-c", _PROBE.format(backend=backend)],
            env=env,
            capture_output=True,
            timeout=_PROBE_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def ensure_gl_backend() -> str | None:
    """Sets ``MUJOCO_GL`` to a working offscreen backend unless it is set; returns it.

    Returns None, changing nothing, when PyOpenGL is already imported without ``MUJOCO_GL``:
    its platform is bound then, and whatever bound it is what rendering will use.

    Raises:
        RuntimeError: No backend works; the message says what to install.
    """
    chosen = os.environ.get("MUJOCO_GL")
    if chosen:
        return chosen
    if "OpenGL" in sys.modules:
        return None
    candidates = [*GL_BACKENDS]
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        candidates.append("glfw")
    for backend in candidates:
        if backend_works(backend):
            os.environ["MUJOCO_GL"] = backend
            return backend
    raise RuntimeError(
        f"no OpenGL backend for offscreen rendering works here (tried MUJOCO_GL="
        f"{', '.join(candidates)}): {INSTALL_HINT}"
    )


@torch.no_grad()
def record_video(
    policy: GaussianActorCritic,
    env_config: EnvConfig,
    path: str | Path,
    episodes: int = 2,
    seed: int = 0,
    fps: int | None = None,
) -> Path:
    """Film ``episodes`` deterministic episodes offscreen into ``path`` (.mp4 or .gif).

    Raises:
        ValueError: ``path`` is not .mp4 or .gif, or ``env_config.kwargs`` names an argument
            the env does not take.
        RuntimeError: No OpenGL backend renders here (see :func:`ensure_gl_backend`).
    """
    import imageio.v2 as imageio

    path = Path(path)
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"video path must end in .mp4 or .gif, got {path.name}")
    backend = ensure_gl_backend()
    kwargs = {**env_config.kwargs, "render_mode": "rgb_array"}
    envs.check_env_kwargs(env_config.id, kwargs)
    env = gym.make(env_config.id, **kwargs)
    low, high = env.action_space.low, env.action_space.high
    fps = fps or int(env.metadata.get("render_fps", 30))
    frames = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        frames.append(_first_frame(env, backend) if episode == 0 else env.render())
        done = False
        while not done:
            act = policy.act(torch.as_tensor(obs, dtype=torch.float32)[None], deterministic=True)
            obs, _, term, trunc, _ = env.step(np.clip(act.actions[0].numpy(), low, high))
            frames.append(env.render())
            done = term or trunc
    env.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        imageio.mimsave(path, frames[::2], duration=2000 / fps, loop=0)
    else:
        imageio.mimsave(path, frames, fps=fps, macro_block_size=8)
    return path


def _first_frame(env: gym.Env, backend: str | None) -> np.ndarray:
    """The first render, where a backend that cannot render fails: as one RuntimeError."""
    try:
        return env.render()
    # A broken backend fails in many ways (ImportError, AttributeError inside PyOpenGL,
    # mujoco.FatalError); each means the same to the user.
    except Exception as error:
        env.close()
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise RuntimeError(
            f"offscreen rendering with MUJOCO_GL={backend or '(unset)'} failed ({detail}); "
            f"{INSTALL_HINT}"
        ) from error
