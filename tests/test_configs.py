"""The shipped configs: found by name from any folder, and declared as package data."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from configs import resolve_config, shipped_configs

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
