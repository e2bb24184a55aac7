"""The folders draw the idea (DESIGN.md): two worlds on one core, arrows pointing down only.

An AST walk over every module's imports, top-level and inside functions alike, so a lazy
import cannot slip a world into the core.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agents", "envs", "rlhf_text", "rlhf_arm", "rlhf_gym")

FORBIDDEN = {
    # the ground floor: the core and the environments never import each other or a world
    "agents": {"envs", "rlhf_text", "rlhf_arm", "rlhf_gym", "transformers", "mujoco"},
    "envs": {"agents", "rlhf_text", "rlhf_arm", "rlhf_gym"},
    # the two worlds stand side by side
    "rlhf_text": {"rlhf_arm", "rlhf_gym"},
    "rlhf_arm": {"rlhf_text", "rlhf_gym"},
}
MAX_MODULE_LINES = 400


def imported_roots(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports (absolute imports only)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def modules(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_down_only(package: str) -> None:
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in sorted(imported_roots(path) & FORBIDDEN[package])
    ]
    assert not offences, "\n".join(offences)


def test_the_layout_test_sees_an_offence(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from envs.arm_reach import ArmReach\n    import rlhf_text.data\n")
    assert imported_roots(bad) == {"envs", "rlhf_text"}


def test_benchmarks_import_the_package_not_each_other() -> None:
    own = {path.stem for path in modules("benchmarks")}
    for path in modules("benchmarks"):
        text = path.read_text()
        assert "sys.path" not in text, f"{path.name} edits sys.path"
        assert not imported_roots(path) & own, f"{path.name} imports another benchmark"


def test_modules_stay_small() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in modules(*PACKAGES, "benchmarks")
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"
