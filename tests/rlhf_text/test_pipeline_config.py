"""The shipped text configs load, and the {sft}/{rm} placeholders chain the steps."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agents.config import ConfigError, load_config
from rlhf_text.pipeline import PipelineConfig, resolve

CONFIGS = sorted((Path(__file__).parents[2] / "configs" / "text").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_text_configs_load_and_chain(path: Path) -> None:
    config = resolve(load_config(PipelineConfig, path))
    out = config.run_dir
    assert config.sft.run_dir == f"{out}/sft" and config.rm.run_dir == f"{out}/rm"
    assert config.ppo.actor.name_or_path == f"{out}/sft"
    assert config.ppo.critic.name_or_path == f"{out}/rm"
    spec = config.ppo.reward
    rm_spec = spec if spec["type"] == "reward_model" else spec["terms"]["rm"]["reward"]
    assert rm_spec["model"] == f"{out}/rm"
    # the reward spec is the file's, whole: no keys of the default spec mixed in
    assert set(spec) == set(yaml.safe_load(path.read_text())["ppo"]["reward"])
    assert config.sft.data == config.rm.data == config.ppo.data == config.data


def test_overrides_reach_nested_step_fields() -> None:
    config = load_config(
        PipelineConfig, CONFIGS[0], ["ppo.kl.coef=0.05", "run_dir=/tmp/x", "rm.epochs=3"]
    )
    config = resolve(config)
    assert config.ppo.kl.coef == 0.05 and config.rm.epochs == 3
    assert config.ppo.actor.name_or_path == "/tmp/x/sft"
    with pytest.raises(ConfigError, match="ppo.kl.no_such"):
        load_config(PipelineConfig, CONFIGS[0], ["ppo.kl.no_such=1"])
