"""`rlhf-gym arm sweep`: trials on a local Ray, each its own resumable run folder; a table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.logger import read_metrics
from rlhf_arm.sweep import (
    SweepSpec,
    best_trial,
    parse_values,
    trial_name,
    trial_overrides,
    trial_values,
)

# 2 arms x 64 steps x 2 iterations: seconds per trial
TINY = ["env.num_envs=2", "run.num_steps=64", "run.total_timesteps=256", "run.checkpoint_every=1"]


def test_grid_and_seeded_random_trials_are_the_same_on_every_run() -> None:
    assert parse_values("ppo.clip_coef=[0.1, 0.2]") == ("ppo.clip_coef", [0.1, 0.2])
    assert parse_values("policy.hidden=[[32,32],[64]]") == ("policy.hidden", [[32, 32], [64]])
    assert parse_values("run.seed=3") == ("run.seed", [3])
    with pytest.raises(ValueError, match="not key="):
        parse_values("ppo.clip_coef")
    spec = SweepSpec("reach.yaml", "out", grid={"a": [1, 2]}, choices={"b": [1, 2, 3]}, samples=3)
    trials = trial_values(spec)
    assert len(trials) == 6 and [t["a"] for t in trials] == [1, 1, 1, 2, 2, 2]
    assert trials == trial_values(spec)  # seeded: a resumed sweep finds the same folders
    assert trial_name(3, {"ppo.clip_coef": 0.1, "policy.hidden": [64]}) == (
        "003-ppo.clip_coef=0.1,policy.hidden=_64_"
    )
    with pytest.raises(ValueError, match="at least one"):
        SweepSpec("reach.yaml", "out")


def test_best_trial_skips_failed_ones_and_follows_the_mode() -> None:
    rows = [
        {"name": "000", "values": {"a": 1}, "error": None, "metrics": {"m": 1.0}},
        {"name": "001", "values": {"a": 2}, "error": "boom", "metrics": {}},
        {"name": "002", "values": {"a": 3}, "error": None, "metrics": {"m": 3.0}},
    ]
    assert best_trial(rows, "m", "max")["name"] == "002"
    assert best_trial(rows, "m", "min")["name"] == "000"
    assert best_trial(rows, "other", "max") is None


def test_a_sweep_of_two_trials_on_ray_resumes_and_prints_the_best(tmp_path: Path, capsys) -> None:
    pytest.importorskip("ray.tune")
    from agents.config import load_config
    from configs import resolve_config
    from rlhf_arm.experiment import ContinuousConfig, train_from_config
    from rlhf_gym.cli import main

    out = tmp_path / "sweep"
    args = ["arm", "sweep", "--out", str(out), "--grid", "ppo.clip_coef=[0.1,0.3]", *TINY]
    # trial 000 stopped after one iteration, as a killed sweep leaves it
    spec = SweepSpec(str(resolve_config("reach")), str(out), TINY, {"ppo.clip_coef": [0.1, 0.3]})
    first = trial_name(0, {"ppo.clip_coef": 0.1})
    config = load_config(
        ContinuousConfig, spec.config, trial_overrides(spec, first, {"ppo.clip_coef": 0.1})
    )
    train_from_config(config, stop_after=1)
    metrics_file = out / "trials" / first / "metrics.jsonl"
    row = json.loads(metrics_file.read_text())
    assert row["iteration"] == 1
    # a resumed trial keeps the rows up to its checkpoint; a restarted one would rewrite them
    metrics_file.write_text(json.dumps({**row, "marker": 1.0}) + "\n")

    assert main(args) == 0
    table = capsys.readouterr().out
    folders = sorted(path.name for path in (out / "trials").iterdir())
    assert folders == [first, trial_name(1, {"ppo.clip_coef": 0.3})]
    for folder in folders:  # each trial trained to the end in its own folder
        assert [row["iteration"] for row in read_metrics(out / "trials" / folder)] == [1, 2]
        assert (out / "trials" / folder / "checkpoint.json").is_file()
    assert read_metrics(out / "trials" / first)[0]["marker"] == 1.0  # resumed, not restarted
    rows = [line for line in table.splitlines() if line.startswith("| 00")]
    assert len(rows) == 2 and "error" not in table
    assert "| trial | ppo.clip_coef | rollout/ep_return |" in table
    assert "best (rollout/ep_return " in table and "ppo.clip_coef=" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "ppo.clip_coef"], "is not key=[value, ...]"),
        ([], "a sweep needs at least one --grid or --choice key"),
        (["--grid", "ppo.clip_coef=[]"], "needs a non-empty list of values"),
    ],
)
def test_bad_sweep_arguments_are_one_line_errors(tmp_path: Path, capsys, args, message) -> None:
    from rlhf_gym.cli import main

    assert main(["arm", "sweep", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlhf-gym: error: ") and message in err and "\n" not in err
