"""Your own arm learns as well as the built-in one: success at 0.05 m from the rest pose.

Trains PPO on each arm config for each seed (one process, one thread, one run at a time;
a stopped benchmark resumes its runs), then evaluates each policy deterministically on 100
seeded episodes that start from the arm's rest pose (``random_start_fraction=0``, whatever
the training used). Arms: ``reach`` (the built-in arm5), ``so101`` (the SO-101-class URDF)
and ``arm4_up`` (a 4-joint test arm whose rest pose points straight up, in so101's
``joint_target`` control). Appends one JSON line per run to ``--out`` and prints a table.

    .venv/bin/python benchmarks/arm_byo_learning.py --steps 3000000 --seeds 1 2 3
    .venv/bin/python benchmarks/arm_byo_learning.py --arms arm4_up --steps 1000000 \
        env.kwargs.control_mode=position      # the delta-target baseline
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from agents.config import load_config
from agents.train import limit_cpu_threads
from configs import resolve_config
from rlhf_arm.baselines import record_row, seeded_run_overrides, train_then_evaluate
from rlhf_arm.experiment import ContinuousConfig

ARMS = {
    "reach": ("reach", []),
    "so101": ("so101", []),
    "arm4_up": (
        "reach",
        [
            "env.kwargs.xml_file=arm4_up.xml",
            "env.kwargs.ee_site=tip",
            "env.kwargs.control_mode=joint_target",
        ],
    ),  # fmt: skip
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--steps", type=int, default=3_000_000)
    parser.add_argument("--runs", default="runs/bench-byo", help="run folders go here")
    parser.add_argument("--out", default="runs/bench-byo/results.jsonl")
    parser.add_argument("overrides", nargs="*", help="config overrides for every run")
    args = parser.parse_args()
    limit_cpu_threads(1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for arm in args.arms:
        name, arm_overrides = ARMS[arm]
        for seed in args.seeds:
            run_dir = Path(args.runs) / f"{arm}-{args.steps}-s{seed}"
            overrides = seeded_run_overrides(
                [*arm_overrides, *args.overrides], seed, args.steps, run_dir
            )
            config = load_config(ContinuousConfig, resolve_config(name), overrides)
            metrics = train_then_evaluate(config, eval_kwargs={"random_start_fraction": 0.0})
            row = {"arm": arm, "seed": seed, "steps": args.steps, **metrics,
                   "overrides": args.overrides}  # fmt: skip
            record_row(out, rows, row)
    print("\n| arm | steps | seeds | success at 0.05 m (each) | mean | final distance (m) |")
    print("|---|---|---|---|---|---|")
    for arm in args.arms:
        mine = [row for row in rows if row["arm"] == arm]
        success = [row["success_rate"] for row in mine]
        distance = np.mean([row["mean_final_distance"] for row in mine])
        print(f"| {arm} | {args.steps:,} | {len(mine)} | {', '.join(f'{s:.2f}' for s in success)} "
              f"| {np.mean(success):.3f} | {distance:.4f} |")  # fmt: skip


if __name__ == "__main__":
    main()
