"""Ctrl-C anywhere in an arm run, then the same command again: the run ends exactly where an
uninterrupted one does (parameters bit for bit, every logged metric)."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest
import torch

from agents.checkpoint import read_checkpoint
from agents.config import load_config
from agents.logger import read_metrics
from agents.ppo import TorchStepper
from envs.arm_reach_vector import ArmReachVectorEnv
from rlhf_arm.experiment import ContinuousConfig, train_from_config
from tests.interrupts import ctrl_c_at, same_rows

REPO = Path(__file__).resolve().parents[2]
SMALL = [
    "env.num_envs=2",
    "run.num_steps=16",
    "run.total_timesteps=192",  # 6 iterations of 2 x 16 steps
    "run.checkpoint_every=4",
    "run.progress=false",
    "ppo.num_minibatches=2",
    "ppo.update_epochs=2",  # 4 optimiser steps per iteration
]


def arm_config(run_dir: Path, vectorization: str = "native") -> ContinuousConfig:
    overrides = [*SMALL, f"run_dir={run_dir}", f"env.vectorization={vectorization}"]
    return load_config(ContinuousConfig, REPO / "configs/arm/reach.yaml", overrides)


def final_policy(run_dir: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(run_dir)["parts"]["parts"]["policy"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, Path]:
    runs = {}
    for vectorization in ("native", "sync"):
        runs[vectorization] = tmp_path_factory.mktemp(f"whole-{vectorization}")
        train_from_config(arm_config(runs[vectorization], vectorization))
    return runs


STEP = {"native": (ArmReachVectorEnv, "step"), "sync": (gym.vector.SyncVectorEnv, "step")}


@pytest.mark.parametrize(
    ("vectorization", "where", "calls", "saved_iteration"),
    [
        ("native", "collection", (20,), 2),  # step 4 of iteration 2's rollout
        ("native", "collection", (17,), 2),  # its first step
        ("native", "update", (6,), 2),  # iteration 2's second optimiser step
        ("native", "update", (8,), 2),  # its last one
        ("native", "collection", (84, 85), 4),  # a second Ctrl-C: the checkpoint of 4
        ("sync", "collection", (23,), 2),
        ("sync", "update", (11,), 3),
    ],
)
def test_ctrl_c_then_resume_equals_the_uninterrupted_run(
    uninterrupted: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    vectorization: str,
    where: str,
    calls: tuple[int, ...],
    saved_iteration: int,
) -> None:
    owner, name = STEP[vectorization] if where == "collection" else (TorchStepper, "apply")
    config = arm_config(tmp_path, vectorization)
    with monkeypatch.context() as patch:
        ctrl_c_at(patch, owner, name, calls)
        with pytest.raises(KeyboardInterrupt):
            train_from_config(config)
    assert read_checkpoint(tmp_path)["loop"]["iteration"] == saved_iteration
    train_from_config(config)
    whole = uninterrupted[vectorization]
    expected, actual = final_policy(whole), final_policy(tmp_path)
    assert expected.keys() == actual.keys()
    for key, value in expected.items():
        assert torch.equal(value, actual[key]), key
    same_rows(read_metrics(whole), read_metrics(tmp_path))


def test_preference_run_ctrl_c_then_resume_equals_the_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rlhf_arm.prefs import PrefsConfig, train_prefs
    from tests.rlhf_arm.test_arm_prefs import CONFIG, TINY

    def prefs_config(run_dir: Path) -> PrefsConfig:
        return load_config(PrefsConfig, CONFIG, [*TINY, f"run_dir={run_dir}"])

    whole = train_prefs(prefs_config(tmp_path / "whole"))
    with monkeypatch.context() as patch:
        ctrl_c_at(patch, TorchStepper, "apply", (5,))  # in round 0's PPO
        with pytest.raises(KeyboardInterrupt):
            train_prefs(prefs_config(tmp_path / "parts"))
    assert read_checkpoint(tmp_path / "parts")["loop"]["next_round"] == 1  # round 0 finished
    resumed = train_prefs(prefs_config(tmp_path / "parts"))
    assert resumed.rounds == whole.rounds
    expected, actual = final_policy(tmp_path / "whole"), final_policy(tmp_path / "parts")
    for key, value in expected.items():
        assert torch.equal(value, actual[key]), key
