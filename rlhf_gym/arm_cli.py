"""`rlhf-gym arm export` and `rlhf-gym arm deploy`: from a trained run to the user's arm.

`rlhf_gym.cli` registers these sub-commands with `add_arm_deploy_parsers` and calls
`run_arm_deploy_command` for them; the work is in `rlhf_arm.export` and `rlhf_arm.deploy`.
"""

from __future__ import annotations

import argparse
import json

COMMANDS = ("export", "deploy")


def add_arm_deploy_parsers(commands: argparse._SubParsersAction) -> None:
    """Adds `export` and `deploy` to the `arm` command's sub-parsers."""
    export = commands.add_parser(
        "export", help="write policy.onnx + policy.json (+ policy.npz) for a deploy loop"
    )
    export.add_argument("--checkpoint", required=True, help="a run folder from arm train")
    export.add_argument("--out", required=True, help="the folder to write")

    deploy = commands.add_parser(
        "deploy", help="run an exported policy on an arm at its control period, with safety"
    )
    deploy.add_argument("--policy", required=True, help="a folder from arm export")
    deploy.add_argument("--driver", choices=("sim", "lerobot"), default="sim")
    deploy.add_argument("--seconds", type=float, default=10.0, help="how long to run")
    deploy.add_argument(
        "--target", type=float, nargs=3, default=None, metavar=("X", "Y", "Z"),
        help="one target (m, world frame); default: random targets in the workspace",
    )  # fmt: skip
    deploy.add_argument("--target-every", type=float, default=3.0, help="s per random target")
    deploy.add_argument("--seed", type=int, default=0, help="seeds the random targets")
    deploy.add_argument("--runtime", choices=("onnx", "numpy"), default="onnx")
    deploy.add_argument(
        "--max-step", type=float, default=None, help="largest goal change per tick (rad)"
    )
    deploy.add_argument(
        "--watchdog", type=float, default=None, help="s before a reading counts as stale"
    )
    deploy.add_argument("--port", default=None, help="lerobot: the motor bus's serial port")
    deploy.add_argument("--calibration", default=None, help="lerobot: calibration JSON file")
    deploy.add_argument(
        "--perturb", default=None, help="sim: a randomization YAML for the stand-in arm"
    )
    deploy.add_argument("--latency", type=float, default=0.04, help="sim: command latency (s)")


def run_arm_deploy_command(args: argparse.Namespace) -> None:
    """Runs `arm export` or `arm deploy` and prints what it did."""
    if args.command == "export":
        from rlhf_arm.export import export_policy

        description = export_policy(args.checkpoint, args.out)
        print(
            f"exported {len(description['joint_names'])} joints: {', '.join(description['files'])}"
        )
        return
    from rlhf_arm.deploy import DeployConfig, deploy_from_args

    config = DeployConfig(
        seconds=args.seconds,
        target=None if args.target is None else tuple(args.target),
        target_every=args.target_every,
        seed=args.seed,
        runtime=args.runtime,
        max_step=args.max_step,
        watchdog=args.watchdog,
    )
    options = {"port": args.port, "calibration": args.calibration, "perturb": args.perturb,
               "latency": args.latency}  # fmt: skip
    summary = deploy_from_args(args.policy, args.driver, config, options)
    print(json.dumps(summary, indent=2))
