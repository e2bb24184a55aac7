"""Sim-to-sim: policies trained without and with randomised physics, on a perturbed arm.

The perturbed arm (``configs/arm/physics/sim_to_sim.yaml``, drawn anew each episode):
masses, damping and servo gains +-30%, 2 control steps of latency, 0.01 rad observation noise
and +-2 degree calibration offsets. Each policy is trained on the built-in arm
(``configs/arm/reach.yaml``), without randomisation and with
``configs/arm/physics/randomization.yaml``, for each seed (one run at a time, one thread; a
stopped benchmark resumes), then evaluated deterministically on 100 seeded episodes of the
nominal and of the perturbed arm, from the rest pose. Appends one JSON line per run to
``--out`` and prints a table with both rows.

    .venv/bin/python benchmarks/sim_to_sim.py --steps 3000000 --seeds 1 2 3
    .venv/bin/python benchmarks/sim_to_sim.py --rows randomised --steps 1000000 --seeds 1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from agents.config import load_config
from agents.train import limit_cpu_threads
from configs import resolve_config
from rlhf_arm.baselines import record_row, seeded_run_overrides, train_then_evaluate
from rlhf_arm.experiment import ContinuousConfig, evaluate_policy, load_run

ROWS = {
    "nominal": [],
    "randomised": ["env.kwargs.randomization=randomization"],
}
PERTURBED = {"randomization": "sim_to_sim", "random_start_fraction": 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--steps", type=int, default=3_000_000)
    parser.add_argument("--config", default="reach")
    parser.add_argument("--runs", default="runs/bench-sim2sim", help="run folders go here")
    parser.add_argument("--out", default="runs/bench-sim2sim/results.jsonl")
    parser.add_argument("overrides", nargs="*", help="config overrides for every run")
    args = parser.parse_args()
    limit_cpu_threads(1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for row_name in args.rows:
        for seed in args.seeds:
            run_dir = Path(args.runs) / f"{row_name}-{args.steps}-s{seed}"
            overrides = seeded_run_overrides(
                [*ROWS[row_name], *args.overrides], seed, args.steps, run_dir
            )
            config = load_config(ContinuousConfig, resolve_config(args.config), overrides)
            perturbed = train_then_evaluate(config, eval_kwargs=PERTURBED)
            _, policy = load_run(run_dir)
            nominal_kwargs = {k: v for k, v in config.env.kwargs.items() if k != "randomization"}
            nominal_env = type(config.env)(**{**vars(config.env), "kwargs": nominal_kwargs})
            nominal = evaluate_policy(policy, nominal_env, episodes=100, seed=12345)
            row = {"row": row_name, "seed": seed, "steps": args.steps,
                   "perturbed_success": perturbed["success_rate"],
                   "perturbed_distance": perturbed["mean_final_distance"],
                   "nominal_success": nominal["success_rate"],
                   "train_seconds": perturbed["train_seconds"],
                   "overrides": args.overrides}  # fmt: skip
            record_row(out, rows, row)
    print("\n| training | steps | seeds | perturbed success (each) | mean | nominal success |")
    print("|---|---|---|---|---|---|")
    for row_name in args.rows:
        mine = [row for row in rows if row["row"] == row_name]
        success = [row["perturbed_success"] for row in mine]
        nominal = np.mean([row["nominal_success"] for row in mine])
        print(f"| {row_name} | {args.steps:,} | {len(mine)} | "
              f"{', '.join(f'{s:.2f}' for s in success)} | {np.mean(success):.3f} "
              f"| {nominal:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
