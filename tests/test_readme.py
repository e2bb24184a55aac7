"""The README's reward snippets work as pasted: the functions run, the YAML fits the config."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from agents.config import from_dict
from envs.rewards.text import build_text_reward
from rlhf_text.pipeline import PipelineConfig

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_reward_functions_and_text_reward_yaml_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = next(block for block in _blocks("python") if block.startswith("# my_rewards.py"))
    (tmp_path / "my_rewards.py").write_text(module)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_rewards", raising=False)  # another test's, of that name
    my_rewards = importlib.import_module("my_rewards")

    reach = my_rewards.smooth_reach(np.zeros(3), np.ones(5), {"distance": 0.0})
    assert reach == pytest.approx(1.0 - 0.005)
    config = yaml.safe_load(next(block for block in _blocks("yaml") if "weighted_sum" in block))
    pipeline = from_dict(PipelineConfig, config)  # the keys sit where the config expects them
    terms = pipeline.ppo.reward["terms"]
    assert terms["rm"]["reward"]["model"] == "{rm}"  # filled in with step 2's output
    prompts = ["Human: Can I borrow a pen?\n\nAssistant:"] * 2
    answers = [" Yes, please take one, and thank you for asking so nicely today.", " No."]
    polite = build_text_reward(terms["polite"]["reward"]).score(prompts, answers)
    assert list(polite) == [1.0, 0.0]
    length = build_text_reward(terms["length"]["reward"]).score(prompts, answers)
    assert length[0] > length[1]
