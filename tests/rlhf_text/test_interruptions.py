"""Ctrl-C anywhere in a text run (PPO, SFT, reward model), then the same command again: the
run ends exactly where an uninterrupted one does (weights bit for bit, every metric)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from agents.checkpoint import read_checkpoint
from agents.logger import read_metrics
from envs.text_gen import TextGenVectorEnv
from rlhf_text.engine import TrainEngine
from rlhf_text.ppo import EngineStepper, TextPPOConfig
from rlhf_text.ppo_trainer import PPOTextConfig, run_ppo
from rlhf_text.reward_model import RMConfig, run_reward_model
from rlhf_text.sft import SFTConfig, run_sft
from tests.interrupts import count_calls, ctrl_c_at, ctrl_c_when, same_rows
from tests.rlhf_text.test_ppo_trainer import config, params
from tests.rlhf_text.test_sft import small_run


def ppo_config(step_dirs: dict[str, str], run_dir: Path) -> PPOTextConfig:
    # 4 iterations of 2 optimiser steps each, a checkpoint every 2
    ppo = TextPPOConfig(update_epochs=2)
    # the gold judge too: its over-optimisation monitor is part of what must resume exactly
    return config(step_dirs, run_dir, iterations=4, checkpoint_every=2, ppo=ppo, judge="gold",
                  judge_window=2)  # fmt: skip


@pytest.fixture(scope="module")
def whole_ppo(step_dirs, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("whole-ppo")
    run_ppo(ppo_config(step_dirs, run_dir))
    return run_dir


def in_rollout_of(iteration: int, updates: list[int], fired: list[bool]):
    """True once, at the first env step of the given iteration's rollout."""

    def predicate() -> bool:
        if fired[0] or updates[0] != 2 * (iteration - 1):
            return False
        fired[0] = True
        return True

    return predicate


@pytest.mark.parametrize(
    ("where", "saved_iteration"),
    [("rollout", 2), ("update", 2), ("rollout twice", 2)],
)
def test_text_ppo_ctrl_c_then_resume_equals_the_uninterrupted_run(
    step_dirs,
    whole_ppo,
    tmp_path,
    monkeypatch,
    where,
    saved_iteration,
) -> None:
    with monkeypatch.context() as patch:
        if where == "update":
            ctrl_c_at(patch, EngineStepper, "step", (3,))  # iteration 2's first update step
        else:
            updates = count_calls(patch, EngineStepper, "step")
            iterations = (2,) if where == "rollout" else (4, 4)
            for iteration in iterations:  # "twice": a second Ctrl-C in iteration 4's rollout
                fired = [False]
                ctrl_c_when(
                    patch, TextGenVectorEnv, "step", in_rollout_of(iteration, updates, fired)
                )
        with pytest.raises(KeyboardInterrupt):
            run_ppo(ppo_config(step_dirs, tmp_path))
    assert read_checkpoint(tmp_path)["loop"]["iteration"] == saved_iteration
    assert not (tmp_path / "actor").exists()
    run_ppo(ppo_config(step_dirs, tmp_path))
    assert torch.equal(params(whole_ppo / "actor"), params(tmp_path / "actor"))
    same_rows(read_metrics(whole_ppo), read_metrics(tmp_path))


@pytest.mark.parametrize("step", ["sft", "rm"])
def test_sft_and_reward_model_ctrl_c_then_resume_equal_the_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    build, run = (SFTConfig, run_sft) if step == "sft" else (RMConfig, run_reward_model)
    whole = run(build(**small_run(tmp_path, "whole")))
    config = build(**small_run(tmp_path, "parts"))
    with monkeypatch.context() as patch:
        ctrl_c_at(patch, TrainEngine, "step", (3,))  # inside step 3
        with pytest.raises(KeyboardInterrupt):
            run(config)
    assert read_checkpoint(tmp_path / "parts")["loop"]["position"]["step"] == 3
    resumed = run(config)
    assert resumed["train/finished"] == 1.0
    for key, value in whole.items():
        if not key.startswith("train/seconds"):
            assert resumed[key] == value, key
    from safetensors.torch import load_file

    expected = load_file(tmp_path / "whole" / "model.safetensors")
    actual = load_file(tmp_path / "parts" / "model.safetensors")
    assert expected.keys() == actual.keys()
    for key, value in expected.items():
        assert torch.equal(value, actual[key]), key
