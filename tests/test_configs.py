"""The shipped configs: found by name from any folder, and declared as package data."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from configs import COMMAND_CONFIGS, PARTS, config_help, resolve_config, shipped_configs

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("spec", "relative"),
    [
        ("reach", "arm/reach.yaml"),
        ("prefs", "arm/prefs.yaml"),
        ("demo", "demo.yaml"),
        ("tiny", "text/tiny.yaml"),
        ("text/tiny", "text/tiny.yaml"),
        ("arm/reach.yaml", "arm/reach.yaml"),
        ("configs/arm/reach.yaml", "arm/reach.yaml"),  # as demo.yaml names its base configs
    ],
)
def test_a_shipped_config_by_name_from_any_folder(
    spec: str, relative: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_config(spec) == REPO / "configs" / relative


def test_an_existing_path_wins_over_a_shipped_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "reach").write_text("run_dir: mine\n")
    monkeypatch.chdir(tmp_path)
    assert resolve_config("reach") == Path("reach")


def test_unknown_and_ambiguous_names_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        FileNotFoundError,
        match=r"nor a shipped config: arm/physics/randomization, .*arm/prefs, .*text/tiny",
    ):
        resolve_config("no/such.yaml")
    two = {"arm/base": Path("a.yaml"), "text/base": Path("b.yaml")}
    monkeypatch.setattr("configs.shipped_configs", lambda: two)
    with pytest.raises(FileNotFoundError, match="'base' is ambiguous: arm/base, text/base"):
        resolve_config("base")


def test_every_config_file_is_package_data() -> None:
    """pyproject.toml's patterns cover every file under configs/, so an installed package
    has what a checkout has."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "configs" in setuptools["packages"]["find"]["include"]
    patterns = setuptools["package-data"]["configs"]
    root = REPO / "configs"
    files = [
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and path.suffix in (".yaml", ".json")
    ]
    assert files and len(shipped_configs()) >= 6
    missing = [name for name in files if not any(fnmatch.fnmatch(name, p) for p in patterns)]
    assert not missing, f"not declared as package data: {missing}"


def test_every_shipped_config_belongs_to_one_command_or_is_a_part() -> None:
    """A new shipped config must be given to a command (so ``--help`` lists it) or be named
    a part."""
    for_commands = [resolve_config(name) for names in COMMAND_CONFIGS.values() for name in names]
    parts = [resolve_config(name) for name in PARTS]
    assert sorted(for_commands + parts) == sorted(shipped_configs().values())


def _loaders():
    from agents.config import load_config
    from rlhf_arm.experiment import ContinuousConfig
    from rlhf_arm.prefs import PrefsConfig
    from rlhf_gym.demo import load_demo_config
    from rlhf_text.pipeline import PipelineConfig

    return {
        "rlhf-gym demo": load_demo_config,
        "rlhf-gym arm train": lambda path: load_config(ContinuousConfig, path),
        "rlhf-gym arm prefs": lambda path: load_config(PrefsConfig, path),
        "rlhf-gym text": lambda path: load_config(PipelineConfig, path),
    }


@pytest.mark.parametrize(
    ("command", "name"),
    [(command, name) for command, names in COMMAND_CONFIGS.items() for name in names],
)
def test_a_command_takes_its_own_shipped_configs(
    command: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)  # demo.yaml names its base configs from the repository
    path = resolve_config(name, command)
    _loaders()[command](path)  # loads as the command's config type
    assert name in config_help(command)


def test_a_shipped_config_of_another_command_is_refused_naming_both(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"^config 'reach' is a config for rlhf-gym arm train; rlhf-gym demo takes demo, ",
    ):
        resolve_config("reach", "rlhf-gym demo")
    with pytest.raises(ValueError, match="is a config for rlhf-gym text; rlhf-gym arm train takes"):
        resolve_config("configs/text/tiny.yaml", "rlhf-gym arm train")
    with pytest.raises(ValueError, match="is a part other configs point to"):
        resolve_config("arm/physics/randomization", "rlhf-gym arm train")
    own = tmp_path / "mine.yaml"
    own.write_text("run_dir: mine\n")
    assert resolve_config(own, "rlhf-gym demo") == own  # a user's file is not judged
