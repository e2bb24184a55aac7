"""The ``rlhf-gym`` command line: read a config, call one function per command.

A user's mistake (a bad key, a missing file, a reward function of the wrong shape, no OpenGL
for the video) is one line on stderr and exit status 2; ``RLHF_GYM_DEBUG=1`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from configs import config_help
from rlhf_gym.arm_cli import COMMANDS as ARM_DEPLOY_COMMANDS
from rlhf_gym.arm_cli import add_arm_deploy_parsers, run_arm_deploy_command
from rlhf_gym.label_cli import add_label_parser, labelling_for, run_label
from rlhf_gym.sweep_cli import add_arm_sweep_parser, run_arm_sweep
from rlhf_gym.text_cli import (
    add_overrides,
    add_resume_flags,
    add_text_parser,
    run_text,
)

# shipped configs by name (configs.resolve_config): they are found from any folder
DEFAULT_ARM_CONFIG = "reach"
DEFAULT_PREFS_CONFIG = "prefs"
DEFAULT_DEMO_CONFIG = "demo"
DEBUG_VARIABLE = "RLHF_GYM_DEBUG"
EPILOG = (
    f"Errors are one line on stderr (exit status 2); set {DEBUG_VARIABLE}=1 to see the "
    "traceback instead."
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit 2), no usage block.

    ``add_subparsers`` builds its sub-parsers with the parent's class, so this covers
    every command.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"rlhf-gym: error: {message} (see: {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rlhf-gym",
        description="One PPO core for text RLHF and MuJoCo arm reaching.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    worlds = parser.add_subparsers(dest="world", metavar="{demo,arm,text,label}")
    demo = worlds.add_parser(
        "demo", help="the main job: the arm learns to reach, then text SFT -> RM -> PPO, a report"
    )
    demo.add_argument("--config", default=DEFAULT_DEMO_CONFIG, help=config_help("rlhf-gym demo"))
    demo.add_argument("--quick", action="store_true", help="tiny budgets: the same path in < 2 min")
    demo.add_argument("--out", default=None, help="output folder (default: the config's)")
    add_resume_flags(demo)
    add_overrides(demo, "arm.run.total_timesteps=500000, text.ppo.iterations=10")
    arm = worlds.add_parser("arm", help="the MuJoCo arm-reaching world")
    commands = arm.add_subparsers(
        dest="command", metavar="{train,eval,video,prefs,export,deploy,sweep}", required=True
    )

    train = commands.add_parser("train", help="train PPO on the arm (resumes a stopped run)")
    train.add_argument(
        "--config", default=DEFAULT_ARM_CONFIG, help=config_help("rlhf-gym arm train")
    )
    add_resume_flags(train)
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
    prefs.add_argument(
        "--config", default=DEFAULT_PREFS_CONFIG, help=config_help("rlhf-gym arm prefs")
    )
    add_resume_flags(prefs)
    add_overrides(prefs, "prefs.label_budget=300")
    add_arm_deploy_parsers(commands)
    add_arm_sweep_parser(commands, DEFAULT_ARM_CONFIG)
    add_text_parser(worlds)
    add_label_parser(worlds)
    return parser


def _arm(args: argparse.Namespace) -> None:
    from agents.config import load_config
    from configs import resolve_config
    from rlhf_arm.experiment import (
        ContinuousConfig,
        evaluate_policy,
        load_run,
        record_video,
        train_from_config,
    )

    if args.command in ARM_DEPLOY_COMMANDS:
        run_arm_deploy_command(args)
    elif args.command == "sweep":
        run_arm_sweep(args)
    elif args.command == "train":
        path = resolve_config(args.config, "rlhf-gym arm train")
        config = load_config(ContinuousConfig, path, args.overrides)
        _pin_model_path(config.env.kwargs)
        result = train_from_config(config, not args.fresh, None, args.allow_config_change)
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

        path = resolve_config(args.config, "rlhf-gym arm prefs")
        prefs_config = load_config(PrefsConfig, path, args.overrides)
        _pin_model_path(prefs_config.env.kwargs)
        with labelling_for(prefs_config):  # prefs.oracle=human: people label each round
            result = train_prefs(prefs_config, not args.fresh, None, args.allow_config_change)
        last = result.rounds[-1]
        print(
            f"trained {result.global_step} steps on a reward learned from "
            f"{result.labels_used} labels in {result.seconds:.0f} s (true success "
            f"{last.get('prefs/true_success_rate', float('nan')):.2f}); run folder "
            f"{prefs_config.run_dir}"
        )


def _pin_model_path(env_kwargs: dict[str, Any]) -> None:
    """Makes a relative ``env.kwargs.xml_file`` (the user's own MJCF) that exists here
    absolute, so that the run's saved config.yaml finds it from any folder (``arm eval``).

    A bare name not found here is left as typed: ArmReach looks it up among its own assets.
    """
    xml_file = env_kwargs.get("xml_file")
    if not isinstance(xml_file, str):
        return
    path = Path(xml_file).expanduser()
    if not path.is_absolute() and path.is_file():
        env_kwargs["xml_file"] = str(path.resolve())


def _demo(args: argparse.Namespace) -> None:
    from rlhf_arm.video import ensure_gl_backend

    ensure_gl_backend()  # the demo films the arm after training: fail before, not after
    from configs import resolve_config
    from rlhf_gym.demo import headline, load_demo_config, run_demo

    path = resolve_config(args.config, "rlhf-gym demo")

    overrides = [*args.overrides, *([f"run_dir={args.out}"] if args.out else [])]
    overrides += _demo_base_configs(path, overrides, args.quick)
    config = load_demo_config(path, overrides, quick=args.quick)
    _pin_model_path(config.arm.env.kwargs)
    summary = run_demo(config, not args.fresh, args.allow_config_change)
    print(headline(summary))
    print(f"report: {summary['files']['report_html']} (and report.md beside it)")


def _demo_base_configs(path: Path, overrides: list[str], quick: bool) -> list[str]:
    """Overrides that point the demo's base configs (``arm_config``, ``text_config``) at
    shipped configs when their relative paths are not files here (demo.yaml names
    ``configs/arm/reach.yaml``, relative to the repository)."""
    from agents.config import apply_override, deep_merge, read_mapping
    from configs import resolve_config
    from rlhf_gym.demo import DemoConfig

    data = read_mapping(path)
    if quick and isinstance(data.get("quick"), dict):
        data = deep_merge(data, data["quick"])
    for item in overrides:
        apply_override(data, item)
    pinned = []
    for key, command in (("arm_config", "rlhf-gym arm train"), ("text_config", "rlhf-gym text")):
        base = data.get(key, getattr(DemoConfig, key))
        if isinstance(base, str) and base and not Path(base).expanduser().is_file():
            # JSON is YAML: a quoted path survives colons and spaces in the override
            try:
                found = resolve_config(base, command)
            except ValueError as error:
                raise ValueError(f"{key}: {error}") from error
            pinned.append(f"{key}={json.dumps(str(found))}")
    return pinned


def _one_line(error: BaseException) -> str:
    """The first line of an error's message, naming its type where the message alone would
    not say what went wrong (``str(KeyError("x"))`` is ``'x'``)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    message = lines[0] if lines else ""
    if isinstance(error, KeyError) or not message:
        message = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return message


def _expected_errors() -> tuple[type[BaseException], ...]:
    """What a user's input or set-up can raise, as opposed to a bug in rlhf-gym.

    ConfigError is a ValueError; OSError covers missing files and folders; TypeError and
    LookupError come from values of the wrong shape deep in a library; RuntimeError from a
    missing OpenGL backend or a model that does not load; ImportError from an optional extra.
    mujoco's and gymnasium's own error classes join when those libraries are loaded.
    """
    errors: list[type[BaseException]] = [
        OSError, ValueError, TypeError, LookupError, RuntimeError, ImportError,
    ]  # fmt: skip
    if "mujoco" in sys.modules:
        errors.append(sys.modules["mujoco"].FatalError)
    if "gymnasium.error" in sys.modules:
        errors.append(sys.modules["gymnasium.error"].Error)
    return tuple(errors)


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
        {"demo": _demo, "text": run_text, "arm": _arm, "label": run_label}[args.world](args)
    except KeyboardInterrupt:
        print(
            "interrupted: the last checkpoint is kept; run the same command to resume",
            file=sys.stderr,
        )
        return 130
    except Exception as err:
        debug = os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
        if debug or not isinstance(err, _expected_errors()):
            raise
        print(f"rlhf-gym: error: {_one_line(err)}", file=sys.stderr)
        return 2
    if "torch.distributed" in sys.modules:  # never import torch only to find no group
        from agents import ranks

        ranks.finish()  # several ranks: leave the process group together, not one at a time
    return 0


if __name__ == "__main__":
    sys.exit(main())
