"""A tiny trained arm run folder for the export and deploy tests (a few seconds of PPO)."""

from __future__ import annotations

from pathlib import Path

from agents.config import load_config
from rlhf_arm.experiment import ContinuousConfig, train_from_config

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "env.num_envs=2",
    "run.num_steps=32",
    "run.total_timesteps=256",
    "run.progress=false",
    "ppo.num_minibatches=2",
    "ppo.update_epochs=2",
]


def tiny_run(run_dir: Path, *overrides: str) -> Path:
    """Trains 256 steps on the arm (the normaliser has real statistics) and returns the folder."""
    config = load_config(
        ContinuousConfig,
        REPO / "configs/arm/reach.yaml",
        [*TINY, f"run_dir={run_dir}", *overrides],
    )
    train_from_config(config, resume=False)
    return run_dir
