"""``rlhf-gym demo``: both worlds on one PPO core, end to end, into one run folder.

The arm learns to reach (PPO on ``RLHFGym/ArmReach-v0``), is evaluated on 100 seeded episodes
and filmed; then the text pipeline runs (SFT -> reward model -> PPO, DeepSpeed-Chat's three
steps) and writes its held-out report; last, one HTML and Markdown report covers both::

    runs/demo/
      arm/            the arm's run folder (config.yaml, checkpoint.pt, metrics.jsonl, tb/)
      text/           the text pipeline's folder (sft/, rm/, ppo/, each with tb/; report/)
      report.html     headline numbers, plots, the arm video, both tables
      report.md       the same in Markdown
      arm_curves.png  success rate, return and final distance over timesteps
      text_curves.png actor loss, critic loss, reward score and KL over PPO iterations
      arm.gif         the trained arm, deterministic episodes
      summary.json    the headline numbers
      config.yaml     the resolved demo config

The config (``configs/demo.yaml``) names a base config for each world (``arm_config``,
``text_config``) and overrides it (``arm:``, ``text:``); its ``quick:`` section is laid over
everything by ``--quick``. Running the same command again resumes both worlds.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.config import (
    ConfigError,
    apply_override,
    deep_merge,
    from_dict,
    read_mapping,
    save_config,
)
from agents.run_folder import check_before_start
from rlhf_arm.experiment import ContinuousConfig
from rlhf_gym.demo_report import headline, write_demo_report
from rlhf_text.pipeline import PipelineConfig, check_step_resumes, run_pipeline


@dataclass
class DemoConfig:
    """The demo: one arm run and one text pipeline under ``run_dir``, then a report."""

    run_dir: str = "runs/demo"
    """``arm/``, ``text/`` and the report go here"""
    arm_config: str | None = "configs/arm/reach.yaml"
    """the arm's base config (a ContinuousConfig YAML); ``arm`` overrides it. None: defaults"""
    arm: ContinuousConfig = field(default_factory=ContinuousConfig)
    """the arm run (``run_dir`` defaults to ``{run_dir}/arm``)"""
    text_config: str | None = "configs/text/smollm2-135m.yaml"
    """the text pipeline's base config (a PipelineConfig YAML); ``text`` overrides it"""
    text: PipelineConfig = field(default_factory=PipelineConfig)
    """the text pipeline (``run_dir`` defaults to ``{run_dir}/text``)"""
    eval_episodes: int = 100
    """deterministic evaluation episodes of the trained arm"""
    eval_seed: int = 12345
    """seeds the evaluation episodes"""
    video_episodes: int = 2
    """episodes in the arm video"""
    video_size: int = 320
    """video width and height in pixels"""
    video_name: str = "arm.gif"
    """the video file in ``run_dir`` (.gif shows in every browser; .mp4 also works)"""
    quick: dict[str, Any] = field(default_factory=dict)
    """overrides laid over this config by ``--quick`` (already applied when saved)"""

    def __post_init__(self) -> None:
        if self.eval_episodes < 1 or self.video_episodes < 1:
            raise ValueError("eval_episodes and video_episodes must be >= 1")
        if Path(self.video_name).suffix.lower() not in (".gif", ".mp4"):
            raise ValueError(f"video_name must end in .gif or .mp4, got {self.video_name!r}")


def load_demo_config(
    path: str | Path | None = "configs/demo.yaml", overrides: list[str] = (), quick: bool = False
) -> DemoConfig:
    """The demo config: the file, then (with ``quick``) its ``quick`` section, then overrides.

    The ``arm`` and ``text`` sections override the YAML files named by ``arm_config`` and
    ``text_config`` (paths relative to the working directory, like every path in a config);
    the worlds' run folders default to ``{run_dir}/arm`` and ``{run_dir}/text``.

    Raises:
        ConfigError: a missing file, an unknown key or a wrong type (named, dotted).
    """
    data = read_mapping(path, "config file") if path is not None else {}
    if quick:
        if not isinstance(data.get("quick", {}), dict):
            raise ConfigError("quick: expected a mapping of overrides")
        data = deep_merge(data, data.get("quick", {}))
    for item in overrides:
        apply_override(data, item)
    run_dir = str(data.get("run_dir", DemoConfig.run_dir))
    for world, folder_key, default_base in (
        ("arm", "run_dir", DemoConfig.arm_config),
        ("text", "run_dir", DemoConfig.text_config),
    ):
        base_path = data.get(f"{world}_config", default_base)
        base = read_mapping(base_path, f"{world}_config") if base_path else {}
        section = data.get(world) or {}
        if not isinstance(section, dict):
            raise ConfigError(f"{world}: expected a mapping, got {section!r}")
        # the base file's own run folder gives way to the demo's; the demo's sections win
        data[world] = deep_merge(deep_merge(base, {folder_key: f"{run_dir}/{world}"}), section)
    return from_dict(DemoConfig, data)


def run_demo(
    config: DemoConfig, resume: bool = True, allow_config_change: bool = False
) -> dict[str, Any]:
    """Trains, evaluates and films the arm, runs the text pipeline, writes the report.

    A resumed world whose config changed is refused unless ``allow_config_change``
    (:func:`agents.run_folder.check_resume`); ``run_dir/config.yaml`` is written once both
    worlds have run.

    Returns:
        The headline numbers (also written to ``run_dir/summary.json``): ``arm``,
        ``text`` (the pipeline's summary), ``train_seconds`` (each run's training time over
        every invocation, :func:`train_seconds`), ``seconds`` per stage of this invocation
        and ``files``.
    """
    # both worlds' folders first: a changed text config must not wait for the arm's work
    check_before_start(config.arm.run_dir, config.arm, resume, allow_config_change, "arm.")
    check_step_resumes(config.text, resume, allow_config_change, "text.")
    _quiet_model_loading()
    out = Path(config.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    _stage(1, "arm: PPO learns to reach", config.arm.run_dir)
    arm = _run_arm(config, resume, seconds, allow_config_change)
    _stage(2, "text: SFT -> reward model -> PPO", config.text.run_dir)
    tick = time.perf_counter()
    text = run_pipeline(config.text, resume, allow_config_change)
    seconds["text"] = time.perf_counter() - tick
    save_config(config, out / "config.yaml")

    _stage(3, "report", str(out))
    tick = time.perf_counter()
    # a resumed run trains for seconds (or not at all): the headline's time is the runs' own
    summary = {"arm": arm, "text": text, "train_seconds": train_seconds(config)}
    summary["seconds"] = seconds
    summary["files"] = write_demo_report(summary, config, out)
    seconds["report"] = time.perf_counter() - tick
    seconds["total"] = time.perf_counter() - start
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def train_seconds(config: DemoConfig) -> dict[str, float]:
    """Seconds each run spent training, summed over every invocation that trained it.

    The arm and text PPO log each iteration's time (``time/iteration_s`` in their
    ``metrics.jsonl``, which a resume cuts back to its checkpoint). SFT and the reward model
    log to TensorBoard only; each invocation writes one event file, counted from its creation
    to its last training step (:func:`_event_file_seconds`).

    Returns:
        ``arm``, ``sft``, ``rm``, ``ppo`` and ``text`` (the three text steps together).
    """
    from rlhf_text.pipeline import resolve

    text = resolve(config.text)
    seconds = {
        "arm": _iteration_seconds(config.arm.run_dir),
        "sft": _event_file_seconds(Path(text.sft.run_dir) / "tb"),
        "rm": _event_file_seconds(Path(text.rm.run_dir) / "tb"),
        "ppo": _iteration_seconds(text.ppo.run_dir),
    }
    seconds["text"] = seconds["sft"] + seconds["rm"] + seconds["ppo"]
    return seconds


def _iteration_seconds(run_dir: str | Path) -> float:
    """The summed ``time/iteration_s`` of a run's ``metrics.jsonl``."""
    from agents.logger import read_metrics

    return float(sum(row["time/iteration_s"] for row in read_metrics(run_dir)))


def _event_file_seconds(tb_dir: Path, step_tag: str = "train/lr") -> float:
    """Training seconds in the TensorBoard event files of ``tb_dir``, one per invocation.

    Each file counts from its creation to its last training step (an event with
    ``step_tag``, logged once per step): the final evaluation is left out, so resuming a
    finished run, which only evaluates, adds nothing.
    """
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    total = 0.0
    for path in sorted(tb_dir.glob("events.out.tfevents.*")):
        events = list(EventFileLoader(str(path)).Load())
        steps = [e.wall_time for e in events if any(v.tag == step_tag for v in e.summary.value)]
        if steps:
            total += max(steps) - min(event.wall_time for event in events)
    return total


def _quiet_model_loading() -> None:
    """Hide transformers' per-file "Loading weights" bars: the demo loads a dozen small
    models, and the training bars are the ones worth watching."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _stage(number: int, title: str, where: str) -> None:
    print(f"[{number}/3] {title}  ({where})", flush=True)


def _run_arm(
    config: DemoConfig, resume: bool, seconds: dict[str, float], allow_config_change: bool
) -> dict[str, Any]:
    """Train (or resume), then evaluate and film the arm; returns its headline numbers."""
    from rlhf_arm.experiment import evaluate_policy, load_run, record_video, train_from_config

    tick = time.perf_counter()
    result = train_from_config(config.arm, resume, allow_config_change=allow_config_change)
    seconds["arm_train"] = time.perf_counter() - tick
    tick = time.perf_counter()
    arm_config, policy = load_run(config.arm.run_dir)
    video_path = Path(config.run_dir) / config.video_name
    print(f"      evaluating {config.eval_episodes} episodes, filming {video_path}", flush=True)
    metrics = evaluate_policy(policy, arm_config.env, config.eval_episodes, config.eval_seed)
    size = {"width": config.video_size, "height": config.video_size}
    video_env = dataclasses.replace(arm_config.env, kwargs={**arm_config.env.kwargs, **size})
    video = record_video(policy, video_env, video_path, config.video_episodes)
    seconds["arm_eval_video"] = time.perf_counter() - tick
    return {
        **metrics,
        "success_threshold": float(arm_config.env.kwargs.get("success_threshold", 0.05)),
        "timesteps": result.global_step,
        "train_seconds": _iteration_seconds(config.arm.run_dir),  # over every invocation
        "video": str(video),
    }


__all__ = ["DemoConfig", "headline", "load_demo_config", "run_demo"]
