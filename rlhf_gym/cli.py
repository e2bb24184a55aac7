"""The ``rlhf-gym`` command line: read a config, call one function per command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import NoReturn

from rlhf_gym.text_cli import add_overrides, add_text_parser, run_text

DEFAULT_ARM_CONFIG = "configs/arm/reach.yaml"
DEFAULT_DEMO_CONFIG = "configs/demo.yaml"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit 2), no usage block.

    ``add_subparsers`` builds its sub-parsers with the parent's class, so this covers
    every command.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"rlhf-gym: error: {message} (see: {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rlhf-gym", description="One PPO core for text RLHF and MuJoCo arm reaching."
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    worlds = parser.add_subparsers(dest="world", metavar="{demo,arm,text}")
    demo = worlds.add_parser(
        "demo", help="the main job: the arm learns to reach, then text SFT -> RM -> PPO, a report"
    )
    demo.add_argument("--config", default=DEFAULT_DEMO_CONFIG, help="YAML config")
    demo.add_argument("--quick", action="store_true", help="tiny budgets: the same path in < 2 min")
    demo.add_argument("--out", default=None, help="output folder (default: the config's)")
    demo.add_argument("--fresh", action="store_true", help="ignore existing checkpoints")
    add_overrides(demo, "arm.run.total_timesteps=500000, text.ppo.iterations=10")
    arm = worlds.add_parser("arm", help="the MuJoCo arm-reaching world")
    commands = arm.add_subparsers(dest="command", metavar="{train,eval,video,prefs}", required=True)

    train = commands.add_parser("train", help="train PPO on the arm (resumes a stopped run)")
    train.add_argument("--config", default=DEFAULT_ARM_CONFIG, help="YAML config")
    train.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    add_overrides(train, "ppo.clip_coef=0.1")

    evaluate = commands.add_parser("eval", help="success rate, final distance and return")
    evaluate.add_argument("--checkpoint", required=True, help="a run folder from arm train")
    evaluate.add_argument("--episodes", type=int, default=100)
    evaluate.add_argument("--seed", type=int, default=12345)
    evaluate.add_argument("--stochastic", action="store_true", help="sample actions")

    video = commands.add_parser("video", help="film a policy offscreen (mp4 or gif)")
    video.add_argument("--checkpoint", required=True, help="a run folder from arm train")
    video.add_argument("--out", default=None, help="file (.mp4 or .gif); default RUN/reach.mp4")
    video.add_argument("--episodes", type=int, default=3)
    video.add_argument("--seed", type=int, default=0)

    prefs = commands.add_parser(
        "prefs", help="PPO on a reward learned from trajectory preferences (Christiano 2017)"
    )
    prefs.add_argument("--config", default="configs/arm/prefs.yaml", help="YAML config")
    prefs.add_argument("--fresh", action="store_true", help="ignore an existing run's state")
    add_overrides(prefs, "prefs.label_budget=300")
    add_text_parser(worlds)
    return parser


def _arm(args: argparse.Namespace) -> None:
    from agents.config import load_config
    from rlhf_arm.experiment import (
        ContinuousConfig,
        evaluate_policy,
        load_run,
        record_video,
        train_from_config,
    )

    if args.command == "train":
        config = load_config(ContinuousConfig, args.config, args.overrides)
        result = train_from_config(config, resume=not args.fresh)
        last = result.history[-1] if result.history else {}
        success = last.get("rollout/final_is_success", float("nan"))
        print(
            f"trained {result.global_step} steps in {result.seconds:.0f} s "
            f"(rollout success {success:.2f}); run folder {config.run_dir}"
        )
    elif args.command == "eval":
        if args.episodes < 1:
            raise ValueError("--episodes must be >= 1")
        config, policy = load_run(args.checkpoint)
        metrics = evaluate_policy(
            policy, config.env, args.episodes, args.seed, deterministic=not args.stochastic
        )
        print(json.dumps(metrics, indent=2))
    elif args.command == "video":
        config, policy = load_run(args.checkpoint)
        out = args.out or str(Path(args.checkpoint) / "reach.mp4")
        print(record_video(policy, config.env, out, args.episodes, args.seed))
    elif args.command == "prefs":
        from rlhf_arm.prefs import PrefsConfig, train_prefs

        prefs_config = load_config(PrefsConfig, args.config, args.overrides)
        result = train_prefs(prefs_config, resume=not args.fresh)
        last = result.rounds[-1]
        print(
            f"trained {result.global_step} steps on a reward learned from "
            f"{result.labels_used} labels in {result.seconds:.0f} s (true success "
            f"{last.get('prefs/true_success_rate', float('nan')):.2f}); run folder "
            f"{prefs_config.run_dir}"
        )


def _demo(args: argparse.Namespace) -> None:
    # offscreen rendering for the arm video without a display; read when mujoco is imported
    os.environ.setdefault("MUJOCO_GL", "egl")
    from rlhf_gym.demo import headline, load_demo_config, run_demo

    overrides = [*args.overrides, *([f"output_dir={args.out}"] if args.out else [])]
    config = load_demo_config(args.config, overrides, quick=args.quick)
    summary = run_demo(config, resume=not args.fresh)
    print(headline(summary))
    print(f"report: {summary['files']['report_html']} (and report.md beside it)")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    # Overrides may come before or after flags (`train a=1 --fresh b=2`): argparse stops
    # collecting a positional list at the first flag, so gather the rest of them here.
    args, extra = parser.parse_known_args(argv)
    stray = [item for item in extra if "=" not in item or item.startswith("-")]
    if stray or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    # Like `python -m`, let configs name functions in the working directory's modules
    # (env.kwargs.reward_fn=my_rewards:fn); a console script does not put "." on sys.path.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    if args.version:
        from rlhf_gym import __version__

        print(__version__)
        return 0
    if args.world is None:
        parser.print_help()
        return 2
    try:
        {"demo": _demo, "text": run_text, "arm": _arm}[args.world](args)
    except KeyboardInterrupt:
        print(
            "interrupted: the last checkpoint is kept; run the same command to resume",
            file=sys.stderr,
        )
        return 130
    # ConfigError is a ValueError; OSError covers a missing file or a model folder that is not one
    except (OSError, ValueError) as err:
        print(f"rlhf-gym: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
