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
    assert (run_dir / "checkpoint.json").is_file() and any((run_dir / "tb").iterdir())

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
        # a mistyped env argument: named with the closest valid one, before any env is built
        (
            ["arm", "train", "--config", CONFIG, "env.kwargs.reward_dist_weigth=1"],
            "env.kwargs.reward_dist_weigth: RLHFGym/ArmReach-v0 has no argument "
            "'reward_dist_weigth'; did you mean reward_dist_weight?",
        ),
        (
            ["arm", "train", "--config", CONFIG, "env.kwargs.nonsense=1"],
            "it takes: action_smoothing",
        ),
        # the dataclass's own check names the section, not "run.:"
        (["arm", "train", "--config", CONFIG, "run.total_timesteps=0"], "error: run: total"),
        (
            ["arm", "train", "--config", "no_such"],
            "config: arm/physics/randomization, arm/physics/sim_to_sim, arm/prefs, arm/reach",
        ),
        # another command's shipped config: named for what it is, not key by unknown key
        (["demo", "--config", "reach"], "'reach' is a config for rlhf-gym arm train"),
        (["demo", "arm_config=prefs"], "arm_config: config 'prefs' is a config for rlhf-gym arm"),
        (["arm", "train", "--config", "text/tiny"], "rlhf-gym arm train takes reach, so101"),
        # an override's value that is not YAML: where and what, on one line
        (
            ["arm", "train", "--config", CONFIG, "run.seed=[1"],
            "override 'run.seed=[1': the value is not YAML (line 1, column 3: expected ','",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_problem(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, *([f"run_dir={tmp_path}"] if argv[1] == "train" else [])]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("rlhf-gym: error: ") and err.count("\n") == 1, err
    assert "run.:" not in err


def test_a_config_file_that_is_not_yaml_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("run:\n  seed: 1\n bad: [\n")
    assert main(["arm", "train", "--config", str(broken)]) == 2
    err = capsys.readouterr().err
    assert f"{broken}: not valid YAML: line 3, column 2: expected <block end>" in err, err
    assert err.count("\n") == 1, err


def test_unreadable_checkpoint_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert main(["arm", "train", "--config", CONFIG, f"run_dir={run_dir}", *TINY]) == 0
    (tensors,) = (run_dir / "checkpoints").glob("*/tensors.safetensors")
    tensors.write_bytes(b"not a checkpoint")
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


# -- every user mistake is one line on stderr and exit status 2 ---------------------------------


def test_reward_fn_of_the_wrong_signature_fails_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad_rewards.py").write_text(
        "def no_info(observation, action):\n    raise AssertionError('never called')\n"
    )
    monkeypatch.chdir(tmp_path)
    override = "env.kwargs.reward_fn=bad_rewards:no_info"
    assert main(["arm", "train", "--config", CONFIG, "run_dir=run", override, *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "reward_fn bad_rewards:no_info must take (observation, action, info)" in err
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_default_configs_are_found_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each command's default config, and a shipped config's bare name, resolve outside the
    repository (the unknown key proves the file was read: its error comes after loading)."""
    monkeypatch.chdir(tmp_path)
    for argv, known_in in [
        (["arm", "train"], "ContinuousConfig"),
        (["arm", "train", "--config", "reach"], "ContinuousConfig"),
        (["arm", "prefs"], "PrefsConfig"),
        (["text", "sft"], "PipelineConfig"),
        (["text", "sft", "--config", "text/smollm2-135m"], "PipelineConfig"),
        # demo.yaml names its base configs as configs/arm/reach.yaml, configs/text/tiny.yaml
        (["demo", "--quick"], "DemoConfig"),
    ]:
        assert main([*argv, "no_such_key=1"]) == 2, argv
        err = capsys.readouterr().err
        assert f"unknown config key no_such_key (known in {known_in}" in err, (argv, err)


def test_help_shows_the_shipped_default_from_another_folder(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "rlhf_gym", "arm", "train", "--help"],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=True,
    )  # fmt: skip
    assert "default: reach" in " ".join(result.stdout.split())
    assert "config's name (reach, so101)" in " ".join(result.stdout.split())
    demo = subprocess.run(
        [sys.executable, "-m", "rlhf_gym", "demo", "--help"],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=True,
    )  # fmt: skip
    assert "config's name (demo); default: demo" in " ".join(demo.stdout.split())
    top = subprocess.run(
        [sys.executable, "-m", "rlhf_gym", "--help"],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=True,
    )  # fmt: skip
    assert "RLHF_GYM_DEBUG=1" in top.stdout


def test_own_arm_model_path_is_saved_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run trained on ./arm3.xml is evaluated from another folder."""
    from tests.envs.test_arm_reach import write_user_arm

    write_user_arm(tmp_path)
    monkeypatch.chdir(tmp_path)
    arm = ["env.kwargs.xml_file=arm3.xml", "env.kwargs.ee_site=tip", "env.kwargs.kp=5.0"]
    assert main(["arm", "train", "--config", CONFIG, "run_dir=run", *arm, *TINY]) == 0
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["env"]["kwargs"]["xml_file"] == str(tmp_path.resolve() / "arm3.xml")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    capsys.readouterr()
    assert main(["arm", "eval", "--checkpoint", "../run", "--episodes", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 1.0


@pytest.fixture
def tiny_run(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    assert main(["arm", "train", "--config", CONFIG, f"run_dir={run_dir}", *TINY]) == 0
    return run_dir


def test_video_without_any_gl_backend_says_what_to_install(
    tiny_run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.delenv("MUJOCO_GL")
    monkeypatch.delitem(sys.modules, "OpenGL", raising=False)  # as in a fresh process
    tried = []
    monkeypatch.setattr("rlhf_arm.video.backend_works", lambda backend: tried.append(backend))
    capsys.readouterr()
    assert main(["arm", "video", "--checkpoint", str(tiny_run), "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and tried[:2] == ["egl", "osmesa"]
    assert "apt-get install -y libosmesa6" in err and "apt-get install -y libegl1" in err


def test_video_without_mujoco_gl_picks_a_backend_itself(tiny_run: Path) -> None:
    """In a fresh process with no MUJOCO_GL: a video (here EGL works), or the one-line advice
    where no backend does; never a traceback."""
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if key != "MUJOCO_GL"}
    out = tiny_run / "clip.gif"
    result = subprocess.run(
        [sys.executable, "-m", "rlhf_gym", "arm", "video", "--checkpoint", str(tiny_run),
         "--episodes", "1", "--out", str(out)],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    if result.returncode == 0:
        assert len(imageio.mimread(out)) >= 100 // 2
    else:
        assert result.returncode == 2 and "apt-get install" in result.stderr


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (RuntimeError("first line\n  second line\n"), "first line"),
        (KeyError("policy"), "KeyError: 'policy'"),
        (TypeError("expected str, got int"), "expected str, got int"),
        (ModuleNotFoundError("No module named 'deepspeed'"), "No module named 'deepspeed'"),
        (FileNotFoundError("prompts.txt"), "prompts.txt"),
    ],
)
def test_expected_errors_are_one_line(
    error: Exception, line: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr("rlhf_arm.experiment.train_from_config", fail)
    assert main(["arm", "train", "--config", CONFIG]) == 2
    assert capsys.readouterr().err == f"rlhf-gym: error: {line}\n"


def test_debug_variable_shows_the_traceback_and_bugs_are_not_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agents.config import ConfigError

    monkeypatch.setenv("RLHF_GYM_DEBUG", "1")
    with pytest.raises(ConfigError, match="ppo.no_such_key"):
        main(["arm", "train", "--config", CONFIG, "ppo.no_such_key=1"])
    monkeypatch.delenv("RLHF_GYM_DEBUG")

    def bug(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug in rlhf-gym, not the user's mistake")

    monkeypatch.setattr("rlhf_arm.experiment.train_from_config", bug)
    with pytest.raises(ZeroDivisionError):
        main(["arm", "train", "--config", CONFIG])
