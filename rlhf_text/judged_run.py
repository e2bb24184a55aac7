"""A finished text pipeline run, opened to answer its report's held-out prompts and judge them.

Scripts that compare a run's models on the independent judge (``benchmarks/``) start the
same way as the report does: the run's config, its judge, the held-out prompts the report
uses and the SFT tokenizer. :func:`open_judged_run` does that once, with one-line errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envs.rewards.text_base import TextReward
from rlhf_text.data import load_preference_data, prompts
from rlhf_text.judge import judge_for
from rlhf_text.models import ModelConfig, load_causal_lm, load_tokenizer
from rlhf_text.pipeline import PipelineConfig, load_run_config
from rlhf_text.report import generate_responses


@dataclass
class JudgedRun:
    """A run's config and judge, and the report's held-out prompts with how it answers them."""

    config: PipelineConfig
    judge: TextReward
    prompts: list[str]
    """the report's held-out prompts (``report.num_prompts`` of the eval split)"""
    tokenizer: Any

    def load(self, path: str | Path) -> Any:
        """The causal LM saved at ``path`` (SFT's folder or an actor's), in eval mode."""
        return load_causal_lm(ModelConfig(name_or_path=str(path)), self.tokenizer).eval()

    def answers(self, model: Any, do_sample: bool = False, seed: int = 0) -> list[str]:
        """``model``'s answer to each prompt, as the report generates them."""
        report = self.config.report
        return generate_responses(
            model, self.tokenizer, self.prompts, report.max_new_tokens, do_sample=do_sample,
            seed=seed, batch_size=report.batch_size,
        )[0]  # fmt: skip


def open_judged_run(run_dir: str | Path) -> JudgedRun:
    """Opens a finished pipeline run folder for judging.

    Raises:
        ValueError: one line: no pipeline config there (:func:`load_run_config`), or a run
            without a judge (``ppo.judge: none``, or ``auto`` on data that is not embedded).
    """
    config = load_run_config(run_dir)
    judge = judge_for(config.ppo.judge, config.data.source)
    if judge is None:
        raise ValueError(f"the run has no judge (ppo.judge: {config.ppo.judge})")
    held_out = prompts(load_preference_data(config.data), "eval")[: config.report.num_prompts]
    tokenizer = load_tokenizer(ModelConfig(name_or_path=config.sft.run_dir))
    return JudgedRun(config, judge, held_out, tokenizer)
