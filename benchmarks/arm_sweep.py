"""Trials per hour of ``rlhf-gym arm sweep``: 2 trials at a time against one after another.

The same sweep (one trial per seed, the shipped arm config on a small budget) runs twice on
a fresh local Ray, ``--parallel 1`` and then ``--parallel 2``, each into an empty folder;
the wall clock includes Ray's start and shutdown, as a user waits for it. Prints a table.

    .venv/bin/python benchmarks/arm_sweep.py [--trials 4] [--timesteps 65536]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from configs import resolve_config
from rlhf_arm.sweep import SweepSpec, run_sweep


def timed_sweep(parallel: int, args: argparse.Namespace, out: Path) -> tuple[float, float]:
    """Wall seconds of the whole sweep, and the trials' own training seconds summed."""
    spec = SweepSpec(
        config=str(resolve_config("reach")),
        out=str(out),
        overrides=[f"run.total_timesteps={args.timesteps}", "run.checkpoint_every=1000"],
        grid={"run.seed": list(range(1, args.trials + 1))},
        parallel=parallel,
    )
    start = time.perf_counter()
    rows = run_sweep(spec)
    wall = time.perf_counter() - start
    failed = [row["error"] for row in rows if row["error"]]
    if failed:
        raise RuntimeError(f"{len(failed)} trials failed; the first: {failed[0]}")
    return wall, sum(row["metrics"]["seconds"] for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--timesteps", type=int, default=65536, help="env steps per trial")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for parallel in (1, 2):
            results[parallel] = timed_sweep(parallel, args, Path(tmp) / f"parallel-{parallel}")
    print(f"{args.trials} trials of {args.timesteps} steps; load average before: {load:.1f}")
    print("| trials at a time | wall s | trials / hour | training s per trial | speed-up |")
    print("|---:|---:|---:|---:|---:|")
    for parallel, (wall, train) in results.items():
        print(
            f"| {parallel} | {wall:.1f} | {args.trials / wall * 3600:.0f} | "
            f"{train / args.trials:.1f} | {results[1][0] / wall:.2f}x |"
        )


if __name__ == "__main__":
    main()
