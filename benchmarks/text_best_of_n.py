"""Best-of-n on the judge: how much of a reward model's preference the judge confirms.

Gao et al. (2022) measure reward-model over-optimisation two ways: with RL, and with best-of-n
sampling, which answers with the reward model's favourite of n samples. Best-of-n needs no
training, and its KL to the policy is at most log n - (n - 1) / n nats (the formula they use;
Beirami et al. 2024 show it is an upper bound), so it shows quickly what PPO against the
same reward model can hope for.

For a finished ``rlhf-gym text pipeline`` run folder: the policy (SFT, or a PPO actor with
``--policy``) answers the report's held-out prompts ``n`` times, sampled. For each ``n`` the
reward model picks its favourite of the first ``n`` answers, and the judge (``ppo.judge``)
compares the pick with SFT's greedy answer, as the report's greedy row compares PPO's. The
oracle columns let the judge pick instead: the most any choice among those answers reaches.
Under the table: how often the reward model orders two answers to one prompt as the judge
does, over the pairs the judge separates.

    .venv/bin/python benchmarks/text_best_of_n.py RUN_DIR [--n 1 2 4 8 16] [--rm DIR ...]
"""

from __future__ import annotations

import argparse
import math
from itertools import combinations
from pathlib import Path

import numpy as np
from tqdm import tqdm

from envs.rewards.reward_model import RewardModelScorer
from rlhf_text.judge import TIE_TOLERANCE, win_counts
from rlhf_text.judged_run import open_judged_run
from rlhf_text.pipeline_report import judge_name, score_length


def best_of_n_kl(n: int) -> float:
    """The bound on best-of-n's KL (nats) to the policy it samples: log n - (n - 1) / n."""
    return math.log(n) - (n - 1) / n


def pick(scores: np.ndarray, n: int) -> np.ndarray:
    """Per prompt, the index of the highest of the first ``n`` rows of ``scores`` (n, prompts)."""
    return np.argmax(scores[:n], axis=0)


def pair_agreement(judge: np.ndarray, reward: np.ndarray) -> tuple[float, int]:
    """How often ``reward`` orders two answers to one prompt as ``judge`` does, over the pairs
    ``judge`` separates; both (answers, prompts). Returns (rate, pairs)."""
    agree = pairs = 0
    for i, j in combinations(range(judge.shape[0]), 2):
        separated = np.abs(judge[i] - judge[j]) > TIE_TOLERANCE
        same = np.sign(judge[i] - judge[j]) == np.sign(reward[i] - reward[j])
        agree += int(np.sum(same & separated))
        pairs += int(np.sum(separated))
    return (agree / pairs if pairs else float("nan")), pairs


def disagreement_by_term(
    terms: list[dict[str, np.ndarray]], weights: dict[str, float], reward: np.ndarray
) -> dict[str, tuple[int, int]]:
    """For a judge made of weighted terms (:class:`rlhf_text.judge.GoldJudge`): per term, the
    pairs of answers to one prompt whose judge difference it contributes most to, and how
    many of them ``reward`` (answers, prompts) orders the other way. ``terms``: per answer
    set, each term's values over the prompts."""
    counts = {name: [0, 0] for name in weights}
    names = list(weights)
    for i, j in combinations(range(len(terms)), 2):
        parts = np.array([weights[k] * (terms[i][k] - terms[j][k]) for k in names])
        judged = parts.sum(axis=0)
        separated = np.abs(judged) > TIE_TOLERANCE
        main = np.argmax(np.abs(parts), axis=0)
        disagree = np.sign(judged) != np.sign(reward[i] - reward[j])
        for index, name in enumerate(names):
            decided = separated & (main == index)
            counts[name][0] += int(np.sum(decided))
            counts[name][1] += int(np.sum(decided & disagree))
    return {name: (pairs, against) for name, (pairs, against) in counts.items() if pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="a text pipeline's run folder")
    parser.add_argument("--n", type=int, nargs="+", default=[1, 2, 4, 8, 16], help="sizes")
    parser.add_argument("--rm", nargs="+", default=None, help="reward-model dirs (the run's)")
    parser.add_argument("--policy", default="sft", help="'sft' or an actor under the run's ppo/")
    parser.add_argument("--seed", type=int, default=1000, help="the first sample's seed")
    args = parser.parse_args()
    if min(args.n) < 1:
        parser.error(f"--n: sizes must be at least 1, got {min(args.n)}")
    try:
        run = open_judged_run(args.run_dir)
    except ValueError as error:
        parser.error(str(error))
    config, judge, held_out = run.config, run.judge, run.prompts
    policy = config.sft.run_dir if args.policy == "sft" else Path(config.ppo.run_dir) / args.policy
    reward_models = args.rm or [config.rm.run_dir]
    missing = [str(p) for p in (policy, *reward_models) if not Path(p).is_dir()]
    if missing:
        parser.error(f"no model directory at {', '.join(missing)}")

    sft_greedy = run.answers(run.load(config.sft.run_dir))
    model, samples = run.load(policy), []
    for i in tqdm(
        range(max(args.n)), desc=f"{args.policy}: an answer to each prompt", unit="round"
    ):
        samples.append(run.answers(model, do_sample=True, seed=args.seed + i))
    baseline = judge.score(held_out, sft_greedy)
    judged = np.array([judge.score(held_out, answers) for answers in samples])
    columns = np.arange(len(held_out))
    print(f"judge: {judge_name(config.ppo.judge)}")
    print(f"{len(held_out)} held-out prompts; {args.policy} sampled, against SFT greedy "
          f"(judge score {baseline.mean():+.3f})")  # fmt: skip
    for reward_model in reward_models:
        scorer = RewardModelScorer(reward_model, max_length=score_length(config))
        rewards = np.array([scorer.score(held_out, answers) for answers in samples])
        rate, pairs = pair_agreement(judged, rewards)
        print(f"\nreward model {reward_model}")
        print("| n | KL bound (nats) | RM's pick: RM score | judge score | wins / ties / losses "
              "| win rate | judge's pick: judge score | win rate |")  # fmt: skip
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in sorted(set(args.n)):
            by_rm, by_judge = pick(rewards, n), pick(judged, n)
            wins, ties, losses = win_counts(judged[by_rm, columns], baseline)
            oracle = win_counts(judged[by_judge, columns], baseline)
            print(
                f"| {n} | {best_of_n_kl(n):.2f} | {rewards[by_rm, columns].mean():+.3f} "
                f"| {judged[by_rm, columns].mean():+.3f} | {wins} / {ties} / {losses} "
                f"| {(wins + ties / 2) / len(columns):.0%} "
                f"| {judged[by_judge, columns].mean():+.3f} "
                f"| {(oracle[0] + oracle[1] / 2) / len(columns):.0%} |"
            )
        print(f"\nthe reward model orders {rate:.0%} of {pairs} pairs of answers to one prompt "
              "as the judge does")  # fmt: skip
        if hasattr(judge, "score_terms"):  # a rule judge: which of its terms the RM misses
            terms = [judge.score_terms(held_out, answers) for answers in samples]
            print("\n| the judge's deciding term | pairs | the reward model orders the other way |")
            print("|---|---:|---:|")
            by_term = disagreement_by_term(terms, judge.weights, rewards)
            for name, (count, against) in by_term.items():
                print(f"| {name} | {count} | {against} ({against / count:.0%}) |")


if __name__ == "__main__":
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # its loading bars would cut into the table
    main()
