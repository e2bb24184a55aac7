"""The shipped text configs load, and the {sft}/{rm} placeholders chain the steps."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agents.config import ConfigError, load_config
from rlhf_text.pipeline import PipelineConfig, resolve, steps

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


def test_a_judge_reward_model_trains_on_the_other_half_of_the_prompts() -> None:
    config = load_config(
        PipelineConfig, CONFIGS[0],
        ["run_dir=/tmp/j", "judge_rm={epochs: 1}", 'ppo.judge="{judge_rm}"'],
    )  # fmt: skip
    config = resolve(config)
    assert config.judge_rm.run_dir == "/tmp/j/judge_rm" and config.ppo.judge == "/tmp/j/judge_rm"
    assert config.rm.data.train_part == "first_half"
    assert config.judge_rm.data.train_part == "second_half"
    assert config.sft.data.train_part == config.ppo.data.train_part == "all"
    assert steps(config) == ("sft", "rm", "judge_rm", "ppo")


def test_naming_the_judge_model_without_one_is_refused() -> None:
    config = load_config(PipelineConfig, CONFIGS[0], ['ppo.judge="{judge_rm}"'])
    with pytest.raises(ValueError, match="judge_rm is not configured"):
        resolve(config)
    assert steps(resolve(load_config(PipelineConfig, CONFIGS[0]))) == ("sft", "rm", "ppo")


def test_the_reports_batch_size_must_be_positive() -> None:
    assert load_config(PipelineConfig, CONFIGS[0], ["report.batch_size=8"]).report.batch_size == 8
    with pytest.raises((ConfigError, ValueError), match="report.batch_size must be >= 1"):
        load_config(PipelineConfig, CONFIGS[0], ["report.batch_size=0"])
