"""The independent judge's verdict on saved PPO actors against the SFT model; prints a table.

For a finished ``rlhf-gym text pipeline`` run folder: each named actor directory of its PPO
step (``actor``, ``actor_best``, ``actor_ema``) answers the report's held-out prompts
greedily, as the report's greedy row does, and the pipeline's judge (``ppo.judge``: the gold
rule judge on the embedded data, or a reward-model directory) compares each answer with the
SFT model's. This is how to choose between the final, the best-judged and the EMA actor.

    .venv/bin/python benchmarks/text_judge_actors.py RUN_DIR [--actors actor actor_ema]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rlhf_text.judge import win_rate
from rlhf_text.judged_run import open_judged_run
from rlhf_text.pipeline_report import judge_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="a text pipeline's run folder")
    parser.add_argument("--actors", nargs="+", default=["actor"], help="under its ppo/")
    args = parser.parse_args()
    try:
        run = open_judged_run(args.run_dir)
    except ValueError as error:
        parser.error(str(error))
    config, judge, held_out = run.config, run.judge, run.prompts
    missing = [a for a in args.actors if not (Path(config.ppo.run_dir) / a).is_dir()]
    if missing:
        parser.error(f"no actor {', '.join(missing)} under {config.ppo.run_dir}")

    def greedy(path: str | Path) -> list[str]:
        return run.answers(run.load(path))

    sft = greedy(config.sft.run_dir)
    print(f"{len(held_out)} held-out prompts, greedy, judge: {judge_name(config.ppo.judge)}\n")
    print("| actor | wins | ties | losses | win rate vs SFT | mean judge score | mean words |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| sft | | | | | {np.mean(judge.score(held_out, sft)):+.3f} | {_words(sft):.1f} |")
    for name in args.actors:
        answers = greedy(Path(config.ppo.run_dir) / name)
        rate = win_rate(judge, held_out, answers, sft)
        print(
            f"| {name} | {rate['judge/wins']:.0f} | {rate['judge/ties']:.0f} "
            f"| {rate['judge/losses']:.0f} | {rate['judge/win_rate']:.0%} "
            f"| {np.mean(judge.score(held_out, answers)):+.3f} | {_words(answers):.1f} |"
        )


def _words(answers: list[str]) -> float:
    return float(np.mean([len(answer.split()) for answer in answers]))


if __name__ == "__main__":
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # its loading bars would cut into the table
    main()
