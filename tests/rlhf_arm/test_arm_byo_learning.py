"""Slow: an arm whose rest pose points straight up learns to reach in joint_target control.

    .venv/bin/python -m pytest -q -m slow tests/rlhf_arm/test_arm_byo_learning.py

About 4 minutes on one core. The same run in delta-target (`position`) control reaches
0.47 (docs/arm.md); benchmarks/arm_byo_learning.py has the 3-seed numbers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.config import load_config
from rlhf_arm.baselines import train_then_evaluate
from rlhf_arm.experiment import ContinuousConfig
from tests.rlhf_arm.arm_runs import REPO


@pytest.mark.slow
def test_straight_up_arm_learns_in_joint_target_control(tmp_path: Path) -> None:
    config = load_config(
        ContinuousConfig,
        REPO / "configs/arm/reach.yaml",
        [
            "env.kwargs.xml_file=arm4_up.xml",
            "env.kwargs.ee_site=tip",
            "env.kwargs.control_mode=joint_target",
            "run.total_timesteps=1000000",
            "run.progress=false",
            f"run_dir={tmp_path}",
        ],
    )
    metrics = train_then_evaluate(config, eval_kwargs={"random_start_fraction": 0.0})
    assert metrics["success_rate"] >= 0.8
