"""Tests for envs.rewards.resolve_callable: callables and 'package.module:attr' import paths."""

from __future__ import annotations

import collections
import math
import os.path
import sys
from pathlib import Path

import pytest

from envs.rewards import resolve_callable


class Holder:
    """A class whose attributes an import path can name."""

    factor = 2.0

    @staticmethod
    def double(x: float) -> float:
        return 2 * x


def test_a_callable_is_returned_unchanged() -> None:
    def reward(observation: object, action: object, info: dict) -> float:
        return 0.0

    assert resolve_callable(reward) is reward
    assert resolve_callable(Holder.double) is Holder.double


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("math:sqrt", math.sqrt),
        ("os.path:join", os.path.join),
        ("collections:OrderedDict.fromkeys", collections.OrderedDict.fromkeys),
        ("tests.envs.test_rewards_resolve:Holder.double", Holder.double),
        ("tests.envs.test_rewards_resolve:Holder", Holder),
    ],
)
def test_import_paths_resolve(spec: str, expected: object) -> None:
    assert resolve_callable(spec) == expected


@pytest.mark.parametrize(
    "spec", ["math.sqrt", "math:", ":sqrt", "math::sqrt", "math:sq rt", "1math:sqrt", "math:sqrt."]
)
def test_malformed_strings_name_the_spec(spec: str) -> None:
    with pytest.raises(ValueError, match="malformed import path") as error:
        resolve_callable(spec)
    assert repr(spec) in str(error.value)


def test_a_missing_module_names_the_spec() -> None:
    with pytest.raises(ValueError, match="no_such_module_xyz") as error:
        resolve_callable("no_such_module_xyz.rewards:score")
    assert "'no_such_module_xyz.rewards:score'" in str(error.value)


def test_a_missing_attribute_names_it_and_the_spec() -> None:
    with pytest.raises(ValueError, match=r"'math' has no attribute 'no_such'.*'math:no_such'"):
        resolve_callable("math:no_such")
    with pytest.raises(ValueError, match=r"'collections.OrderedDict' has no attribute 'nope'"):
        resolve_callable("collections:OrderedDict.nope")


@pytest.mark.parametrize("spec", ["math:pi", "tests.envs.test_rewards_resolve:Holder.factor"])
def test_a_non_callable_names_the_spec(spec: str) -> None:
    with pytest.raises(ValueError, match="not callable") as error:
        resolve_callable(spec)
    assert repr(spec) in str(error.value)


@pytest.mark.parametrize("spec", [42, None, b"math:sqrt", ["math:sqrt"]])
def test_neither_string_nor_callable(spec: object) -> None:
    with pytest.raises(ValueError, match="expected a callable or an import path"):
        resolve_callable(spec)


def test_a_module_that_fails_on_its_own_import_shows_the_real_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "user_rewards_broken.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
        resolve_callable("user_rewards_broken:score")
    sys.modules.pop("user_rewards_broken", None)


def test_a_user_module_on_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "user_rewards_ok.py").write_text(
        "def score(observation, action, info):\n    return -info['distance']\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    score = resolve_callable("user_rewards_ok:score")
    assert score(None, None, {"distance": 0.25}) == -0.25
    sys.modules.pop("user_rewards_ok", None)
