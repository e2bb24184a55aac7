from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from agents.config import ConfigError, load_config, save_config
from rlhf_arm.experiment import ContinuousConfig


@dataclass
class Inner:
    rate: float = 0.1
    name: str = "x"
    widths: tuple[int, ...] = (8, 8)
    clip: float | None = None


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    steps: int = 10
    flag: bool = False


def test_defaults_then_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("steps: 20\ninner:\n  rate: 1\n  widths: [4, 2]\n")
    cfg = load_config(Outer, path, ["inner.name=y", "flag=true", "inner.clip=0.5"])
    assert cfg == Outer(Inner(rate=1.0, name="y", widths=(4, 2), clip=0.5), steps=20, flag=True)
    assert isinstance(cfg.inner.rate, float)


@pytest.mark.parametrize(
    "text,match",
    [
        ("stepz: 3\n", "stepz"),
        ("inner:\n  rat: 3\n", "inner.rat"),
        ("steps: 1.5\n", "steps"),
        ("steps: '3'\n", "steps"),
        ("flag: 1\n", "flag"),
        ("inner:\n  widths: [1, a]\n", r"inner.widths\[1\]"),
        ("inner: 3\n", "inner"),
        ("- 1\n", "mapping"),
    ],
)
def test_unknown_keys_and_wrong_types_name_the_key(tmp_path, text, match):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(Outer, path)


def test_bad_override_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="key=value"):
        load_config(Outer, None, ["steps"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, tmp_path / "nope.yaml")


def test_dataclass_validation_is_reported_as_config_error():
    with pytest.raises(ConfigError, match="clip_coef"):
        load_config(ContinuousConfig, None, ["ppo.clip_coef=1.5"])


def test_saved_config_loads_back_equal(tmp_path):
    cfg = load_config(ContinuousConfig, None, ["policy.hidden=[32, 16]", "env.kwargs={a: 1}"])
    save_config(cfg, tmp_path / "config.yaml")
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["policy"]["hidden"] == [32, 16]
    assert load_config(ContinuousConfig, tmp_path / "config.yaml") == cfg


def test_shipped_arm_configs_load():
    from pathlib import Path

    from rlhf_arm.prefs import PrefsConfig

    configs = sorted(Path(__file__).resolve().parents[2].glob("configs/arm/*.yaml"))
    assert configs, "configs/arm/*.yaml missing"
    for path in configs:  # prefs.yaml is the preference loop's; every other one plain PPO
        load_config(PrefsConfig if path.stem == "prefs" else ContinuousConfig, path)


def test_a_nested_override_keeps_the_fields_own_defaults() -> None:
    from dataclasses import dataclass, field

    from agents.ppo import PPOConfig

    @dataclass
    class Outer:
        ppo: PPOConfig = field(default_factory=lambda: PPOConfig(update_epochs=1, gamma=1.0))

    config = load_config(Outer, None, ["ppo.clip_coef=0.1"])
    assert config.ppo.clip_coef == 0.1
    assert config.ppo.update_epochs == 1 and config.ppo.gamma == 1.0  # not PPOConfig's 10, 0.99


def test_exponent_without_a_dot_is_a_number() -> None:
    config = load_config(ContinuousConfig, None, ["run.learning_rate=2e-3"])
    assert config.run.learning_rate == 0.002
    with pytest.raises(ConfigError, match="run.learning_rate"):
        load_config(ContinuousConfig, None, ["run.learning_rate=fast"])


@dataclass
class WithSpec:
    inner: Inner = field(default_factory=Inner)
    spec: Any = field(default_factory=lambda: {"type": "a", "model": "m"})


@dataclass
class Top:
    # a non-class default for a nested dataclass (like text PPO's coefficients)
    part: WithSpec = field(default_factory=lambda: WithSpec(Inner(rate=0.5)))


def test_a_mapping_for_a_plain_field_replaces_its_default_whole(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("part:\n  inner: {name: z}\n  spec: {type: b, terms: {}}\n")
    cfg = load_config(Top, path)
    # nested dataclass fields merge over the field's own default ...
    assert cfg.part.inner == Inner(rate=0.5, name="z")
    # ... a plain mapping (a reward spec) does not mix with the default's keys
    assert cfg.part.spec == {"type": "b", "terms": {}}
