"""Run folders a user can trust: a resume under a changed config is refused (and leaves the
folder as it was), a checkpoint from a stranger runs no code, and a checkpoint that does not
fit is one clear line."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from agents.checkpoint import CheckpointError, checkpoint_folder, load_checkpoint, save_checkpoint
from rlhf_gym.cli import main

REPO = Path(__file__).parents[1]
CONFIG = str(REPO / "configs" / "arm" / "reach.yaml")
TINY = ["env.num_envs=2", "run.num_steps=32", "run.total_timesteps=256", "run.progress=false"]


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("rlhf-gym: error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def stopped_run(tmp_path: Path) -> Path:
    """An arm run stopped after its 2nd of 4 iterations, with a checkpoint."""
    from agents.config import load_config
    from rlhf_arm.experiment import ContinuousConfig, train_from_config

    run_dir = tmp_path / "run"
    overrides = [*TINY, "run.total_timesteps=256", "run.checkpoint_every=1", f"run_dir={run_dir}"]
    train_from_config(load_config(ContinuousConfig, CONFIG, overrides), stop_after=2)
    return run_dir


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        (["run.seed=7"], "run.seed"),
        (["ppo.clip_coef=0.1", "run.learning_rate=0.009"], "ppo.clip_coef, run.learning_rate"),
    ],
)
def test_a_changed_config_is_refused_and_leaves_the_run_as_it_was(
    stopped_run: Path, capsys: pytest.CaptureFixture[str], changes: list[str], named: str
) -> None:
    before = (stopped_run / "config.yaml").read_text()
    argv = ["arm", "train", "--config", CONFIG, *TINY, f"run_dir={stopped_run}", *changes]
    assert main(argv) == 2
    err = one_line_error(capsys)
    assert named in err and "--allow-config-change" in err
    assert (stopped_run / "config.yaml").read_text() == before
    assert checkpoint_folder(stopped_run)[0] == 2  # the checkpoint is untouched too
    assert main(["arm", "eval", "--checkpoint", str(stopped_run), "--episodes", "2"]) == 0
    # asked for, the change is accepted and recorded once the run has resumed
    assert main([*argv, "--allow-config-change"]) == 0
    assert (stopped_run / "config.yaml").read_text() != before


def test_harmless_changes_need_no_permission(stopped_run: Path) -> None:
    argv = ["arm", "train", "--config", CONFIG, *TINY, f"run_dir={stopped_run}"]
    assert main([*argv, "run.checkpoint_every=3"]) == 0


class _Payload:
    """Unpickling this runs ``os.system``: what a malicious checkpoint.pt would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_checkpoint_is_never_unpickled(
    stopped_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    marker = tmp_path / "pwned"
    downloaded = tmp_path / "downloaded"
    downloaded.mkdir()
    shutil.copy(stopped_run / "config.yaml", downloaded / "config.yaml")
    (downloaded / "checkpoint.pt").write_bytes(pickle.dumps({"policy": _Payload(marker)}))
    assert main(["arm", "eval", "--checkpoint", str(downloaded)]) == 2
    assert "old pickle format" in one_line_error(capsys)
    # the same bytes where the tensors should be: safetensors refuses them, nothing runs
    (tensors,) = (stopped_run / "checkpoints").glob("*/tensors.safetensors")
    tensors.write_bytes(pickle.dumps({"policy": _Payload(marker)}))
    assert main(["arm", "eval", "--checkpoint", str(stopped_run)]) == 2
    assert "not a readable checkpoint" in one_line_error(capsys)
    assert not marker.exists()


def test_a_manifest_cannot_point_outside_its_run_folder(
    stopped_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, folder = checkpoint_folder(stopped_run)
    outside = tmp_path / "elsewhere"
    folder.rename(outside)
    manifest = {"format": 1, "step": 2, "path": "../elsewhere"}
    (stopped_run / "checkpoint.json").write_text(json.dumps(manifest))
    assert main(["arm", "eval", "--checkpoint", str(stopped_run)]) == 2
    assert "outside" in one_line_error(capsys)


def test_a_checkpoint_of_another_arm_is_one_line(
    stopped_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = stopped_run / "config.yaml"
    config.write_text(config.read_text().replace("- 64\n  - 64", "- 32\n  - 32"))
    assert main(["arm", "eval", "--checkpoint", str(stopped_run)]) == 2
    assert "does not fit this model" in one_line_error(capsys)


def test_a_checkpoint_missing_a_key_is_one_line(
    stopped_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, folder = checkpoint_folder(stopped_run)
    state = json.loads((folder / "state.json").read_text())
    del state["parts"]["parts"]["policy"]["actor_head.bias"]
    (folder / "state.json").write_text(json.dumps(state))
    assert main(["arm", "eval", "--checkpoint", str(stopped_run)]) == 2
    assert "actor_head.bias" in one_line_error(capsys)


def test_a_kill_at_any_moment_of_a_save_leaves_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save interrupted after any of its renames: the manifest names a whole checkpoint."""
    save_checkpoint(tmp_path, 1, {"step": 1})
    real_replace = os.replace
    for fail_at in (1, 2):  # the folder's rename, then the manifest's
        calls = [0]

        def crash(src, dst, calls=calls, fail_at=fail_at):
            calls[0] += 1
            if calls[0] == fail_at:
                raise KeyboardInterrupt  # the process dies here
            return real_replace(src, dst)

        monkeypatch.setattr(os, "replace", crash)
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(tmp_path, 2, {"step": 2})
        monkeypatch.setattr(os, "replace", real_replace)
        assert load_checkpoint(tmp_path) == {"step": 1}
    save_checkpoint(tmp_path, 2, {"step": 2})
    assert load_checkpoint(tmp_path) == {"step": 2}
    assert len(list((tmp_path / "checkpoints").iterdir())) == 1  # stale folders are gone


def test_what_cannot_be_stored_safely_is_refused_when_saving(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot checkpoint a _Payload"):
        save_checkpoint(tmp_path, 1, {"x": _Payload(tmp_path / "m")})
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path)


def test_a_key_added_to_the_config_since_the_run_started_is_not_a_change(
    stopped_run: Path,
) -> None:
    """A run saved before a config field existed resumes when the field keeps its default."""
    import yaml

    config_path = stopped_run / "config.yaml"
    saved = yaml.safe_load(config_path.read_text())
    del saved["ppo"]["loss_backend"]  # as written by a version without the field
    config_path.write_text(yaml.safe_dump(saved))
    argv = ["arm", "train", "--config", CONFIG, *TINY, f"run_dir={stopped_run}"]
    assert main(argv) == 0
    assert main([*argv, "ppo.loss_backend=autograd"]) == 2  # a real change still is one


def test_a_fresh_start_forgets_the_old_runs_logs_and_a_resume_keeps_them(tmp_path) -> None:
    from dataclasses import dataclass

    from agents.checkpoint import save_checkpoint
    from agents.run_folder import start_run

    @dataclass
    class Tiny:
        lr: float = 0.1

    def old_logs() -> None:
        (tmp_path / "tb").mkdir(exist_ok=True)
        (tmp_path / "tb" / "events.out.tfevents.1").write_text("old")
        (tmp_path / "metrics.jsonl").write_text('{"iteration": 1}\n')

    old_logs()
    assert start_run(tmp_path, Tiny(), resume=True) is False  # no checkpoint: a fresh start
    assert not (tmp_path / "tb").exists() and not (tmp_path / "metrics.jsonl").exists()
    save_checkpoint(tmp_path, 1, {"x": 1}, [])
    old_logs()
    assert start_run(tmp_path, Tiny(), resume=True) is True
    assert (tmp_path / "tb" / "events.out.tfevents.1").is_file()
    assert start_run(tmp_path, Tiny(), resume=False) is False  # --fresh
    assert not (tmp_path / "tb").exists() and not (tmp_path / "metrics.jsonl").exists()


def test_only_rank_zero_clears_and_writes_a_fresh_run_folder(tmp_path, monkeypatch) -> None:
    # the ranks of a launched run prepare the same folder at once, before DeepSpeed forms
    # their process group: a rank that cleared tb/ would delete the log rank 0 just opened
    from dataclasses import dataclass

    from agents.run_folder import start_run

    @dataclass
    class Tiny:
        lr: float = 0.1

    (tmp_path / "tb").mkdir()
    (tmp_path / "tb" / "events.out.tfevents.1").write_text("rank 0's")
    monkeypatch.setenv("RANK", "1")
    assert start_run(tmp_path, Tiny(), resume=True) is False
    assert (tmp_path / "tb" / "events.out.tfevents.1").is_file()
    assert not (tmp_path / "config.yaml").exists()
    monkeypatch.setenv("RANK", "0")
    assert start_run(tmp_path, Tiny(), resume=True) is False
    assert not (tmp_path / "tb").exists() and (tmp_path / "config.yaml").is_file()
