"""The command line end to end on ArmReach: train -> eval -> video, resume, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v2 as imageio
import pytest
import torch
import yaml

from agents.config import load_config
from rlhf_arm.experiment import ContinuousConfig, load_run, train_from_config
from rlhf_gym.cli import main

REPO = Path(__file__).parents[1]
CONFIG = str(REPO / "configs" / "arm" / "reach.yaml")
TINY = ["env.num_envs=2", "run.num_steps=32", "run.total_timesteps=256", "run.progress=false"]


def _params(policy: torch.nn.Module) -> torch.Tensor:
    return torch.cat([value.detach().flatten().float() for value in policy.state_dict().values()])


def test_train_eval_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    assert main(["arm", "train", "--config", CONFIG, f"run_dir={run_dir}", *TINY]) == 0
    assert "trained 256 steps" in capsys.readouterr().out
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["env"]["num_envs"] == 2 and saved["run"]["total_timesteps"] == 256
    assert saved["env"]["kwargs"] == {"control_mode": "position", "success_bonus": 1.0}
    assert (run_dir / "checkpoint.pt").is_file() and any((run_dir / "tb").iterdir())

    assert main(["arm", "eval", "--checkpoint", str(run_dir), "--episodes", "3"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["episodes"] == 3.0
    assert 0.0 <= metrics["success_rate"] <= 1.0
    assert 0.0 < metrics["mean_final_distance"] < 1.0
    assert metrics["mean_return"] < 0  # negative distances over 100 steps

    out = tmp_path / "reach.gif"
    assert main(["arm", "video", "--checkpoint", str(run_dir), "--out", str(out)]) == 0
    frames = imageio.mimread(out)
    assert len(frames) >= 3 * 100 // 2 and frames[0].shape[-1] in (3, 4)


@pytest.mark.parametrize("vectorization", ["native", "sync"])
def test_stopped_and_resumed_run_equals_an_uninterrupted_one(
    tmp_path: Path, vectorization: str
) -> None:
    overrides = [*TINY[:3], "run.total_timesteps=320", "run.checkpoint_every=1"]
    overrides.append(f"env.vectorization={vectorization}")
    whole = load_config(ContinuousConfig, CONFIG, [*overrides, f"run_dir={tmp_path / 'a'}"])
    whole.run.progress = False
    train_from_config(whole)
    parts = load_config(ContinuousConfig, CONFIG, [*overrides, f"run_dir={tmp_path / 'b'}"])
    parts.run.progress = False
    assert train_from_config(parts, stop_after=2).iterations == 2
    resumed = train_from_config(parts)
    assert resumed.iterations == 5 and len(resumed.history) == 3
    _, policy_whole = load_run(tmp_path / "a")
    _, policy_parts = load_run(tmp_path / "b")
    assert torch.equal(_params(policy_whole), _params(policy_parts))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["arm", "train", "--config", CONFIG, "ppo.no_such_key=1"], "ppo.no_such_key"),
        (["arm", "train", "--config", CONFIG, "run.num_steps=many"], "run.num_steps"),
        (["arm", "train", "--config", "missing.yaml"], "missing.yaml"),
        (["arm", "train", "--config", CONFIG, "env.id=NoSuchEnv-v9"], "NoSuchEnv-v9"),
        (["arm", "eval", "--checkpoint", "no/such/run"], "no/such/run"),
        (["arm", "video", "--checkpoint", "no/such/run"], "no/such/run"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, *([f"run_dir={tmp_path}"] if argv[1] == "train" else [])]) == 2
    assert message in capsys.readouterr().err


def test_unreadable_checkpoint_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert main(["arm", "train", "--config", CONFIG, f"run_dir={run_dir}", *TINY]) == 0
    (run_dir / "checkpoint.pt").write_bytes(b"not a checkpoint")
    assert main(["arm", "eval", "--checkpoint", str(run_dir)]) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err


def test_console_script_entry_point() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "rlhf_gym", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip()


def test_reward_fn_from_a_module_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "my_rewards.py").write_text(
        "import numpy as np\n\n"
        "def smooth_reach(observation, action, info):\n"
        "    return float(np.exp(-20.0 * info['distance']) - 0.001 * np.sum(action**2))\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", ".")])
    override = "env.kwargs.reward_fn=my_rewards:smooth_reach"
    assert main(["arm", "train", "--config", CONFIG, "run_dir=run", override, *TINY]) == 0
    assert main(["arm", "eval", "--checkpoint", "run", "--episodes", "2"]) == 0
    metrics = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert metrics["mean_return"] > 0  # exp(-20 d) > 0: the custom reward was used


def test_overrides_may_follow_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    argv = ["arm", "train", "env.num_envs=2", "--fresh", "--config", CONFIG, *TINY[1:]]
    assert main([*argv, f"run_dir={run_dir}"]) == 0
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["env"]["num_envs"] == 2 and saved["run"]["total_timesteps"] == 256
    with pytest.raises(SystemExit):
        main(["arm", "train", "--config", CONFIG, "--no-such-flag"])
    assert "--no-such-flag" in capsys.readouterr().err
