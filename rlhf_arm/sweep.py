"""Many arm training runs on Ray Tune: a grid or a seeded random search over config keys.

Each trial is what ``rlhf-gym arm train`` runs (:func:`rlhf_arm.experiment.train_from_config`)
with the sweep's base config, the overrides every trial shares and the trial's own values,
in its own run folder ``OUT/trials/NNN-key=value,...``. Ray Tune schedules the trials
(``parallel`` at a time, one CPU each) on a local Ray started on 127.0.0.1, or on the
cluster at ``address``. Ray is an optional extra: ``pip install "rlhf-gym[sweep]"``.

**Resumable.** The trial list is a pure function of the spec (the random draws come from
``seed``), so running the same sweep again gives every trial the same folder, and each
trial resumes from its own checkpoint as ``arm train`` does; finished trials return at
once. A trial's result is the last row of its ``metrics.jsonl`` (the last iteration's
rollout metrics), so a resumed finished trial reports what it ended with.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

TRIALS_DIR = "trials"
COLUMNS = ("rollout/final_is_success", "rollout/ep_return")
"""metrics shown for every trial beside the one the sweep ranks by"""


@dataclass
class SweepSpec:
    """What to search and how to run it."""

    config: str
    """the base arm config (a YAML path) every trial starts from"""
    out: str
    """the sweep's folder: ``trials/`` (one run folder per trial) and Ray's own records"""
    overrides: list[str] = field(default_factory=list)
    """``key=value`` overrides every trial shares (a small budget, a seed)"""
    grid: dict[str, list[Any]] = field(default_factory=dict)
    """every combination of these keys' values is a trial"""
    choices: dict[str, list[Any]] = field(default_factory=dict)
    """random search: each of ``samples`` trials (per grid point) draws one value per key"""
    samples: int = 1
    """random draws per grid point (only with ``choices``)"""
    seed: int = 0
    """seeds the random draws (the same seed gives the same trials)"""
    parallel: int = 2
    """trials at a time (one CPU each)"""
    metric: str = "rollout/ep_return"
    """the metrics.jsonl key the best trial is picked by"""
    mode: Literal["max", "min"] = "max"
    """whether a larger or a smaller ``metric`` is better"""
    address: str | None = None
    """a Ray cluster (``auto``, ``ray://host:10001``); None starts a local Ray on 127.0.0.1"""

    def __post_init__(self) -> None:
        if not self.grid and not self.choices:
            raise ValueError("a sweep needs at least one --grid or --choice key")
        for key, values in {**self.grid, **self.choices}.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"{key} needs a non-empty list of values, got {values!r}")
        if self.samples < 1 or self.parallel < 1:
            raise ValueError("samples and parallel must be >= 1")
        if self.mode not in ("max", "min"):
            raise ValueError(f"mode must be max or min, got {self.mode!r}")


def parse_values(item: str) -> tuple[str, list[Any]]:
    """``key=[a, b]`` (YAML: ``ppo.clip_coef=[0.1,0.2]``) as ``(key, [a, b])``; a single
    value is a list of one."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ValueError(f"{item!r} is not key=[value, ...]")
    try:
        values = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        from agents.config import yaml_problem

        raise ValueError(f"{item!r}: the values are not YAML ({yaml_problem(err)})") from err
    return key, values if isinstance(values, list) else [values]


def trial_values(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every trial's own ``{key: value}``: the grid's product, times ``samples`` seeded
    draws from ``choices`` when there are any."""
    points = [
        dict(zip(spec.grid, combo, strict=True)) for combo in itertools.product(*spec.grid.values())
    ]
    if not spec.choices:
        return points
    rng = np.random.default_rng(spec.seed)
    trials = []
    for point in points:
        for _ in range(spec.samples):
            draw = {key: values[rng.integers(len(values))] for key, values in spec.choices.items()}
            trials.append({**point, **draw})
    return trials


def trial_name(index: int, values: dict[str, Any]) -> str:
    """``003-ppo.clip_coef=0.1,run.seed=2``: a folder name, the same on every run."""
    text = ",".join(f"{key}={json.dumps(value)}" for key, value in values.items())
    return f"{index:03d}-" + re.sub(r"[^A-Za-z0-9._=,+-]", "_", text)[:120]


def trial_overrides(spec: SweepSpec, name: str, values: dict[str, Any]) -> list[str]:
    """The trial's ``arm train`` overrides: shared, then its own, then its run folder."""
    own = [f"{key}={json.dumps(value)}" for key, value in values.items()]  # JSON is YAML
    run_dir = Path(spec.out).resolve() / TRIALS_DIR / name
    return [*spec.overrides, *own, f"run_dir={json.dumps(str(run_dir))}"]


def run_trial(config_path: str, overrides: list[str]) -> dict[str, float]:
    """One trial in this process: train (resuming its folder), return its last metrics."""
    from agents.config import load_config
    from agents.logger import read_metrics
    from rlhf_arm.experiment import ContinuousConfig, train_from_config

    config = load_config(ContinuousConfig, config_path, overrides)
    result = train_from_config(config, resume=True)
    rows = read_metrics(config.run_dir)
    last = rows[-1] if rows else {}
    return {**last, "global_step": float(result.global_step), "seconds": result.seconds}


def _tune_trial(params: dict[str, Any]) -> None:  # runs in a Ray worker
    from ray import tune

    trial = params["trial"]  # the param space is {"trial": grid_search(trials)}
    tune.report(run_trial(trial["config"], trial["overrides"]))


def run_sweep(spec: SweepSpec) -> list[dict[str, Any]]:
    """Run every trial on Ray Tune; one row per trial (``name``, ``values``, ``run_dir``,
    ``metrics`` or ``error``), in trial order."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no progress boxes around the table
    import ray
    from ray import tune

    trials = []
    for index, values in enumerate(trial_values(spec)):
        name = trial_name(index, values)
        overrides = trial_overrides(spec, name, values)
        config = str(Path(spec.config).resolve())
        trials.append({"name": name, "values": values, "config": config, "overrides": overrides})
    out = Path(spec.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if spec.address is None:  # local: no dashboard, nothing listening beyond 127.0.0.1
        ray.init(num_cpus=spec.parallel, include_dashboard=False, log_to_driver=False,
                 _node_ip_address="127.0.0.1", configure_logging=False)  # fmt: skip
    else:
        ray.init(address=spec.address, log_to_driver=False, configure_logging=False)
    try:
        tuner = tune.Tuner(
            tune.with_resources(_tune_trial, {"cpu": 1}),
            param_space={"trial": tune.grid_search(trials)},
            tune_config=tune.TuneConfig(max_concurrent_trials=spec.parallel),
            run_config=tune.RunConfig(name="ray", storage_path=str(out), verbose=0),
        )
        results = tuner.fit()
    finally:
        ray.shutdown()
    by_name = {}
    for result in results:
        trial = result.config["trial"]
        error = None if result.error is None else str(result.error).strip().splitlines()[-1]
        by_name[trial["name"]] = {"metrics": dict(result.metrics or {}), "error": error}
    return [
        {"name": t["name"], "values": t["values"], "run_dir": str(out / TRIALS_DIR / t["name"]),
         **by_name.get(t["name"], {"metrics": {}, "error": "not run"})}
        for t in trials
    ]  # fmt: skip


def best_trial(rows: list[dict[str, Any]], metric: str, mode: str) -> dict[str, Any] | None:
    """The finished trial with the best ``metric`` (None if none reported it)."""
    scored = [
        r for r in rows if not r["error"] and math.isfinite(r["metrics"].get(metric, math.nan))
    ]
    if not scored:
        return None
    pick = max if mode == "max" else min
    return pick(scored, key=lambda row: row["metrics"][metric])


def format_table(rows: list[dict[str, Any]], spec: SweepSpec) -> str:
    """A Markdown table of the trials and a line naming the best one's overrides."""
    keys = list(dict.fromkeys(key for row in rows for key in row["values"]))
    metrics = list(dict.fromkeys([spec.metric, *COLUMNS, "global_step", "seconds"]))
    lines = [
        "| trial | " + " | ".join(keys + metrics) + " |",
        "|---" * (1 + len(keys) + len(metrics)) + "|",
    ]
    for row in rows:
        cells = [json.dumps(row["values"].get(key)) for key in keys]
        if row["error"]:
            cells += [f"error: {row['error']}"] + [""] * (len(metrics) - 1)
        else:
            cells += [f"{row['metrics'].get(m, math.nan):.4g}" for m in metrics]
        lines.append(f"| {row['name'][:3]} | " + " | ".join(cells) + " |")
    best = best_trial(rows, spec.metric, spec.mode)
    if best is None:
        lines.append(f"\nno trial reported {spec.metric}")
    else:
        own = " ".join(f"{key}={json.dumps(value)}" for key, value in best["values"].items())
        lines.append(
            f"\nbest ({spec.metric} {best['metrics'][spec.metric]:.4g}): trial {best['name'][:3]}, "
            f"{own}; run folder {best['run_dir']}"
        )
    return "\n".join(lines)
