"""The three text steps over one config: SFT -> reward model -> PPO, then a report.

One YAML (``configs/text/*.yaml``) holds all three steps. Paths may name the other steps'
outputs with placeholders, resolved here: ``{run_dir}``, ``{sft}`` (step 1's model),
``{rm}`` (step 2's model). So ``ppo.actor.name_or_path: "{sft}"`` and the reward spec
``{type: reward_model, model: "{rm}"}`` chain the steps, and each step can also run alone
(``rlhf-gym text sft|rm|ppo --config ...``) on what the earlier ones wrote.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from agents.config import from_dict, read_mapping, save_config, to_dict
from agents.logger import read_metrics
from rlhf_text.data import DataConfig
from rlhf_text.models import ModelConfig
from rlhf_text.ppo_trainer import PPOTextConfig
from rlhf_text.reward_model import RMConfig
from rlhf_text.sft import SFTConfig


@dataclass
class ReportConfig:
    """The held-out comparison written after the pipeline."""

    num_prompts: int = 64
    """held-out prompts whose sampled answers are scored before and after PPO"""
    table_prompts: int = 8
    """held-out prompts shown side by side (base / SFT / PPO, greedy)"""
    max_new_tokens: int = 48
    """response length for the report's generations"""
    seed: int = 0
    """seeds the report's sampling"""
    batch_size: int = 64
    """answers generated at once (a CPU makes more tokens per second in bigger batches)"""
    progress: bool = True
    """show a progress bar over the report's stages"""

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"report.batch_size must be >= 1, got {self.batch_size}")


STEPS = ("sft", "rm", "ppo")
"""the three steps of DeepSpeed-Chat, in order"""


def _default_ppo() -> PPOTextConfig:
    return PPOTextConfig(
        actor=ModelConfig(name_or_path="{sft}"),
        critic=ModelConfig(name_or_path="{rm}"),
        reward={"type": "reward_model", "model": "{rm}"},
        run_dir="{run_dir}/ppo",
    )


@dataclass
class PipelineConfig:
    """SFT, reward model and PPO on one dataset, each step feeding the next."""

    run_dir: str = "runs/text"
    """every step writes under here: sft/, rm/, ppo/, report/"""
    data: DataConfig = field(default_factory=DataConfig)
    """the preference data all three steps use (replaces each step's own ``data``)"""
    sft: SFTConfig = field(default_factory=lambda: SFTConfig(run_dir="{run_dir}/sft"))
    rm: RMConfig = field(
        default_factory=lambda: RMConfig(
            model=ModelConfig(name_or_path="{sft}"), run_dir="{run_dir}/rm"
        )
    )
    judge_rm: RMConfig | None = None
    """a second reward model, used only as an independent judge (``ppo.judge:
    "{judge_rm}"``): trained on one half of the training prompts while ``rm`` trains on the
    other (``data.train_part``), so it never saw what PPO's reward learned; None: no such
    model, and ``rm`` trains on all the training rows"""
    ppo: PPOTextConfig = field(default_factory=_default_ppo)
    report: ReportConfig = field(default_factory=ReportConfig)


def _substitute(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, path in names.items():
            value = value.replace("{" + key + "}", path)
        return value
    if isinstance(value, dict):
        return {k: _substitute(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, names) for v in value]
    return value


def resolve(config: PipelineConfig) -> PipelineConfig:
    """Fills the placeholders and gives every step the pipeline's data."""
    run_dir = config.run_dir
    sft_dir = config.sft.run_dir.replace("{run_dir}", run_dir)
    rm_dir = config.rm.run_dir.replace("{run_dir}", run_dir)
    names = {"run_dir": run_dir, "sft": sft_dir, "rm": rm_dir}
    if config.judge_rm is not None:
        if config.judge_rm.run_dir == RMConfig.run_dir:  # not set: beside the other steps
            config = replace(
                config, judge_rm=replace(config.judge_rm, run_dir="{run_dir}/judge_rm")
            )
        names["judge_rm"] = config.judge_rm.run_dir.replace("{run_dir}", run_dir)
    plain = _substitute(to_dict(config), names)
    for step in ("sft", "rm", "ppo"):
        plain[step]["data"] = plain["data"]
    if config.judge_rm is not None:  # two reward models on disjoint halves of the prompts
        plain["rm"]["data"] = {**plain["data"], "train_part": "first_half"}
        plain["judge_rm"]["data"] = {**plain["data"], "train_part": "second_half"}
    elif "{judge_rm}" in str(plain["ppo"]["judge"]):
        raise ValueError('ppo.judge names "{judge_rm}" but judge_rm is not configured')
    return from_dict(PipelineConfig, plain)


def load_run_config(run_dir: str | Path) -> PipelineConfig:
    """The resolved config a text pipeline's run folder saved, for scripts that read its models.

    Raises:
        ValueError: one line, when ``run_dir`` holds no pipeline config (a step's own folder,
            say, or no run at all).
    """
    config_file = Path(run_dir) / "config.yaml"
    if not config_file.is_file():
        raise ValueError(f"{run_dir} has no config.yaml: name a text pipeline's run folder")
    data = read_mapping(config_file, "pipeline config")  # not YAML, or not a mapping: one line
    if {"arm", "text"} <= set(data):  # `rlhf-gym demo`'s folder
        raise ValueError(
            f"{run_dir} is a demo's folder: name its text pipeline's, {Path(run_dir) / 'text'}"
        )
    try:
        return resolve(from_dict(PipelineConfig, data))
    except (ValueError, TypeError, AttributeError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(
            f"{config_file} is not a text pipeline's config ({first_line}): name the pipeline's "
            "run folder, not a step's"
        ) from None


def steps(config: PipelineConfig) -> tuple[str, ...]:
    """The steps a config runs, in order: the judge's reward model only when configured."""
    return ("sft", "rm", "judge_rm", "ppo") if config.judge_rm is not None else STEPS


def run_step(
    config: PipelineConfig, step: str, resume: bool = True, allow_config_change: bool = False
) -> dict[str, Any]:
    """Runs ``"sft"``, ``"rm"``, ``"judge_rm"`` or ``"ppo"`` of a resolved config; returns
    its metrics.

    ``allow_config_change`` lets a resumed step continue under a config that differs from the
    one its run folder started with (refused otherwise, :func:`agents.run_folder.check_resume`).
    """
    allow = {"resume": resume, "allow_config_change": allow_config_change}
    from rlhf_text.ppo_trainer import run_ppo
    from rlhf_text.reward_model import run_reward_model
    from rlhf_text.sft import run_sft

    if step == "sft":
        return run_sft(config.sft, **allow)
    if step == "rm":
        return run_reward_model(config.rm, **allow)
    if step == "judge_rm" and config.judge_rm is not None:
        return run_reward_model(config.judge_rm, **allow)
    if step == "ppo":
        history = run_ppo(config.ppo, **allow)
        return history[-1] if history else {}
    raise ValueError(f"unknown step {step!r}: {', '.join(steps(config))}")


def check_step_resumes(
    config: PipelineConfig, resume: bool, allow_config_change: bool = False, key_prefix: str = ""
) -> None:
    """Refuses a resume under a changed config before any step runs, naming the pipeline's
    keys (``ppo.iterations``; with ``key_prefix``, ``text.ppo.iterations``): otherwise SFT and
    the reward model would load and evaluate first, and only PPO's step would refuse."""
    from agents.run_folder import check_before_start

    config = resolve(config)
    for step in steps(config):
        section = getattr(config, step)
        prefix = f"{key_prefix}{step}."
        check_before_start(section.run_dir, section, resume, allow_config_change, prefix)


def run_pipeline(
    config: PipelineConfig, resume: bool = True, allow_config_change: bool = False
) -> dict[str, Any]:
    """All three steps in order, then the report; returns a summary of the headline numbers.

    ``run_dir/config.yaml`` is written once the steps have run (each step's folder checks and
    records its own config when it resumes)."""
    from rlhf_text.pipeline_report import write_report

    config = resolve(config)
    check_step_resumes(config, resume, allow_config_change)
    out = Path(config.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    peak_mib: dict[str, float] = {}
    results: dict[str, Any] = {}
    for step in steps(config):
        start = time.perf_counter()
        results[step] = run_step(config, step, resume, allow_config_change)
        seconds[step] = time.perf_counter() - start
        peak_mib[step] = peak_rss_mib()
    save_config(config, out / "config.yaml")
    summary = write_report(config, out / "report")
    summary["seconds"] = seconds
    summary["peak_rss_mib"] = peak_mib
    iteration_seconds = [row["time/iteration_s"] for row in read_metrics(config.ppo.run_dir)]
    if iteration_seconds:
        summary["ppo_seconds_per_iteration"] = float(np.median(iteration_seconds))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (MiB; the high-water mark, never lowered,
    so after step k it covers steps 1..k). CPU memory only: on a GPU see
    ``torch.cuda.max_memory_allocated``."""
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20  # KiB on Linux


def step_config(config: PipelineConfig, step: str) -> Any:
    """The resolved config of one step."""
    return getattr(resolve(config), step)


__all__ = [
    "PipelineConfig",
    "ReportConfig",
    "resolve",
    "run_pipeline",
    "run_step",
    "step_config",
]
