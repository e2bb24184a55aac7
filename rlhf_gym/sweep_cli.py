"""`rlhf-gym arm sweep`: many `arm train` runs on Ray Tune, a table and the best config.

`rlhf_gym.cli` registers the sub-command with `add_arm_sweep_parser` and calls
`run_arm_sweep`; the work is in `rlhf_arm.sweep`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from configs import config_help
from rlhf_gym.text_cli import add_overrides


def add_arm_sweep_parser(commands: argparse._SubParsersAction, default_config: str) -> None:
    """Adds `sweep` to the `arm` command's sub-parsers."""
    sweep = commands.add_parser(
        "sweep", help="a grid or random search of arm train runs on Ray Tune (extra: sweep)"
    )
    sweep.add_argument("--config", default=default_config, help=config_help("rlhf-gym arm train"))
    sweep.add_argument("--out", default="runs/arm-sweep", help="the sweep's folder")
    sweep.add_argument(
        "--grid", action="append", default=[], metavar="KEY=[V1,V2]",
        help="every combination of these values is a trial (repeatable)",
    )  # fmt: skip
    sweep.add_argument(
        "--choice", action="append", default=[], metavar="KEY=[V1,V2]",
        help="random search: each of --samples trials draws one value (repeatable)",
    )  # fmt: skip
    sweep.add_argument("--samples", type=int, default=4, help="random trials per grid point")
    sweep.add_argument("--seed", type=int, default=0, help="seeds the random draws")
    sweep.add_argument("--parallel", type=int, default=2, help="trials at a time, 1 CPU each")
    sweep.add_argument("--metric", default="rollout/ep_return", help="a metrics.jsonl key")
    sweep.add_argument("--mode", choices=("max", "min"), default="max")
    sweep.add_argument(
        "--address", default=None, help="a Ray cluster (auto, ray://HOST:10001); default local"
    )
    sweep.add_argument("--fresh", action="store_true", help="start every trial over")
    add_overrides(sweep, "run.total_timesteps=200000 (shared by every trial)")


def run_arm_sweep(args: argparse.Namespace) -> None:
    """Runs the sweep and prints its table and best config."""
    import shutil

    from configs import resolve_config
    from rlhf_arm.sweep import TRIALS_DIR, SweepSpec, format_table, parse_values, run_sweep

    spec = SweepSpec(
        config=str(resolve_config(args.config, "rlhf-gym arm train")),
        out=args.out,
        overrides=list(args.overrides),
        grid=dict(parse_values(item) for item in args.grid),
        choices=dict(parse_values(item) for item in args.choice),
        samples=args.samples if args.choice else 1,
        seed=args.seed,
        parallel=args.parallel,
        metric=args.metric,
        mode=args.mode,
        address=args.address,
    )
    try:
        import ray  # noqa: F401 - checked before any trial starts
    except ImportError as err:
        raise ImportError('arm sweep needs Ray Tune: pip install "rlhf-gym[sweep]"') from err
    if args.fresh:
        shutil.rmtree(Path(args.out) / TRIALS_DIR, ignore_errors=True)
    rows = run_sweep(spec)
    print(format_table(rows, spec))
    if all(row["error"] for row in rows):
        raise RuntimeError(f"every trial failed; the first: {rows[0]['error']}")
