"""The report written after ``rlhf-gym text pipeline``: Markdown, PNG plots and a summary.

Everything is measured on held-out prompts (the data's eval split, never trained on):

- the reward model's accuracy on held-out pairs, and its scores of good and bad answers;
- the mean reward-model score of sampled responses from the SFT model (before PPO) and the
  PPO actor (after), with the PPO actor's KL to the reference (the SFT model);
- base / SFT / PPO answers side by side (greedy);
- actor loss, critic loss and reward score over the PPO iterations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from agents.logger import read_metrics
from envs.rewards.reward_model import RewardModelScorer
from rlhf_text.chat import load_chat_tokenizer
from rlhf_text.data import load_preference_data, prompts
from rlhf_text.judge import judge_for, win_rate
from rlhf_text.models import ModelConfig, load_causal_lm, load_tokenizer
from rlhf_text.probes import BAD_KINDS, probe_accuracy, probe_pairs
from rlhf_text.report import (
    answers_table,
    generate_responses,
    held_out_metrics,
    plot_curves,
    plot_overoptimisation,
    score_table,
)

PPO_CURVES = {
    "loss/policy": "actor loss",
    "loss/value": "critic loss",
    "objective/score": "reward score (mean RM score)",
    "judge/score": "independent judge (never trained on)",
    "objective/kl_exact": "KL to reference, exact (per response)",
    "degeneration/repeated_ngram_rate": "repeated 3-gram rate",
}
"""panels of the PPO curves; a metric a run did not log is left out"""


def _load(path: str | Path, tokenizer):
    model = load_causal_lm(ModelConfig(name_or_path=str(path)), tokenizer).eval()
    return model


def _base_model(config, tokenizer):
    """The model SFT started from (for a tiny config: the same seeded random init)."""
    return load_causal_lm(config.sft.model, tokenizer).eval()


def score_length(config) -> int:
    """Tokens the report's reward model scores: PPO's reward spec's ``max_length`` when it
    names one, else what step 2 trained on."""
    spec = config.ppo.reward if isinstance(config.ppo.reward, dict) else {}
    return int(spec.get("max_length") or config.rm.max_len)


def readable_prompts(config, data) -> dict[str, str]:
    """Each held-out prompt -> the row's own text, for the tables: a chat template's markup
    (``<|im_start|>system ...``) is noise there. Empty without ``data.chat_template``."""
    if config.data.chat_template is None:
        return {}
    return {pair.prompt: data.source_prompts[pair.prompt] for pair in data.eval}


def rm_accuracy(scorer: RewardModelScorer, pairs) -> dict[str, float]:
    """Accuracy and mean scores of the reward model on preference pairs."""
    chosen = scorer.score([p.prompt for p in pairs], [p.chosen for p in pairs])
    rejected = scorer.score([p.prompt for p in pairs], [p.rejected for p in pairs])
    return {
        "accuracy": float(np.mean(chosen > rejected)),
        "chosen_score": float(np.mean(chosen)),
        "rejected_score": float(np.mean(rejected)),
    }


def write_report(config, out_dir: str | Path) -> dict[str, Any]:
    """Writes ``report.md`` and PNGs under ``out_dir``; returns the headline numbers (and
    under ``"tables"`` the answers and reward-model score tables as Markdown)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.report.seed)
    data = load_preference_data(config.data)
    held_out = prompts(data, "eval")
    sft_dir, rm_dir = config.sft.run_dir, config.rm.run_dir
    ppo_dir = Path(config.ppo.run_dir)
    tokenizer = load_tokenizer(ModelConfig(name_or_path=sft_dir))
    sft = _load(sft_dir, tokenizer)
    ppo = _load(ppo_dir / "actor", tokenizer)
    scorer = RewardModelScorer(rm_dir, max_length=score_length(config))
    length = config.report.max_new_tokens
    metric_prompts = held_out[: config.report.num_prompts]

    # the report generates hundreds of answers: minutes on a CPU, so say where it is
    stages = tqdm(total=5, desc="report", unit="stage", disable=not config.report.progress)
    stages.set_postfix_str("reward model on held-out pairs and probes")
    summary: dict[str, Any] = {"rm": rm_accuracy(scorer, data.eval[: config.rm.max_eval_examples])}
    chat = load_chat_tokenizer(config.data.chat_template) if config.data.chat_template else None
    summary["rm_probes"] = probe_accuracy(scorer.score, *probe_pairs(tokenizer=chat))
    judge = judge_for(config.ppo.judge, config.data.source)
    responses = {}
    for name, model in (("sft", sft), ("ppo", ppo)):
        stages.update()
        stages.set_postfix_str(f"{name.upper()} answers to {len(metric_prompts)} held-out prompts")
        summary[name], responses[name] = held_out_metrics(
            model, sft, tokenizer, scorer, metric_prompts, length, config.report.seed, judge,
            config.report.batch_size,
        )  # fmt: skip
    if judge is not None:  # does PPO answer better than SFT, by a judge it never saw?
        summary["judge"] = {
            kind: win_rate(judge, metric_prompts, responses["ppo"][kind], responses["sft"][kind])
            for kind in ("sampled", "greedy")
        }
        summary["judge"]["name"] = judge_name(config.ppo.judge)
    if config.judge_rm is not None and config.ppo.judge != config.judge_rm.run_dir:
        second = judge_for(config.judge_rm.run_dir, config.data.source)
        summary["judge_rm"] = {
            kind: win_rate(second, metric_prompts, responses["ppo"][kind], responses["sft"][kind])
            for kind in ("sampled", "greedy")
        }

    stages.update()
    stages.set_postfix_str("base / SFT / PPO table")
    table_prompts = held_out[: config.report.table_prompts]
    base = _base_model(config, tokenizer)
    answers, scores, judged = {}, {}, {}
    for name, model in (("base", base), ("SFT", sft), ("PPO", ppo)):
        known = responses.get(name.lower(), {}).get("greedy", [])
        if len(table_prompts) <= len(known):  # the same prompts, answered greedily above
            answers[name] = known[: len(table_prompts)]
        else:
            answers[name], _ = generate_responses(
                model, tokenizer, table_prompts, length, batch_size=config.report.batch_size
            )
        scores[name] = scorer.score(list(table_prompts), answers[name])
        if judge is not None:
            judged[name] = judge.score(list(table_prompts), answers[name])
    pairs = {p.prompt: p for p in data.eval}
    examples = [pairs[p] for p in table_prompts if p in pairs]
    readable = readable_prompts(config, data)
    good_bad = score_table(
        scorer,
        [p.prompt for p in examples],
        [p.chosen for p in examples],
        [p.rejected for p in examples],
        shown=[readable.get(p.prompt, p.prompt) for p in examples],
    )
    table_prompts = [readable.get(p, p) for p in table_prompts]
    stages.update()
    stages.set_postfix_str("plots")
    history = read_metrics(ppo_dir)
    plot = plot_curves(history, PPO_CURVES, out / "ppo_curves.png", title="PPO (text)")
    summary["plots"] = [str(plot)]
    overoptimisation = plot_overoptimisation(history, out / "overoptimisation.png")
    if overoptimisation is not None:
        summary["plots"].append(str(overoptimisation))
    # the two tables as Markdown too, for reports that embed this one (rlhf-gym demo)
    summary["tables"] = {
        "answers": answers_table(answers, table_prompts, scores, judged or None),
        "rm_scores": good_bad,
    }
    (out / "report.md").write_text(_markdown(summary, table_prompts))
    stages.update()
    stages.close()
    return summary


def judge_name(choice: str) -> str:
    """How a report names the judge that ``ppo.judge`` chose."""
    if choice in ("auto", "gold"):
        return "rules of the data's own definitions"
    return "a second reward model, trained on the other half of the prompts"


def win_counts_text(rate: dict[str, float]) -> str:
    """``"56% (1 win, 7 ties, 0 losses)"``: a win rate with its counts, since a tie counts half
    (:func:`rlhf_text.judge.win_rate`) and a rate alone hides how many prompts tied."""
    wins, ties, losses = (int(rate[f"judge/{key}"]) for key in ("wins", "ties", "losses"))
    return (
        f"{rate['judge/win_rate']:.0%} ({wins} win{'s' * (wins != 1)}, {ties} tie"
        f"{'s' * (ties != 1)}, {losses} loss{'es' * (losses != 1)})"
    )


def judge_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The independent judges' rows of a report (none when the run had no judge)."""
    rows = []
    if "judge" in summary:
        sft, ppo, judge = summary["sft"], summary["ppo"], summary["judge"]
        sampled, greedy = judge["sampled"], judge["greedy"]
        name = judge.get("name", judge_name("gold"))
        rows += [
            (f"independent judge ({name}; never trained on): mean score of sampled responses, "
             "SFT / PPO", f"{sft['judge_score_mean']:+.3f} / {ppo['judge_score_mean']:+.3f}"),
            (f"PPO's win rate over SFT on the judge ({int(sampled['judge/count'])} prompts; a tie "
             "counts half): sampled / greedy",
             f"{win_counts_text(sampled)} / {win_counts_text(greedy)}"),
        ]  # fmt: skip
    if "judge_rm" in summary:
        sampled, greedy = summary["judge_rm"]["sampled"], summary["judge_rm"]["greedy"]
        rows.append(
            (f"PPO's win rate over SFT on {judge_name('rm')} ({int(sampled['judge/count'])} "
             "prompts; a tie counts half): sampled / greedy",
             f"{win_counts_text(sampled)} / {win_counts_text(greedy)}")
        )  # fmt: skip
    return rows


def _judge_rows(summary: dict[str, Any]) -> list[str]:
    return [f"| {name} | {value} |" for name, value in judge_rows(summary)]


def degeneration_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """How the sampled answers degenerate, SFT against PPO (:mod:`rlhf_text.degeneration`):
    a PPO that games its reward model repeats itself, narrows its words or rambles."""
    sft, ppo = summary["sft"], summary["ppo"]
    rows = [("mean response length in words (sampled): SFT / PPO",
             f"{sft['response_words']:.1f} / {ppo['response_words']:.1f}")]  # fmt: skip
    for key, name, form in (
        ("repeated_ngram_rate", "repeated 3-gram rate", ".3f"),
        ("distinct_1", "distinct-1 (distinct words / words)", ".3f"),
        ("distinct_2", "distinct-2 (distinct word pairs / pairs)", ".3f"),
        ("looping_rate", "answers that loop", ".0%"),
    ):
        key = f"degeneration/{key}"
        if key in sft and key in ppo:
            rows.append((f"{name} (sampled): SFT / PPO", f"{sft[key]:{form}} / {ppo[key]:{form}}"))
    return rows


def probe_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The reward model's accuracy on the probe pairs (:mod:`rlhf_text.probes`)."""
    probes = summary.get("rm_probes")
    if not probes:
        return []
    kinds = ", ".join(f"{kind} {probes[kind]:.0%}" for kind in BAD_KINDS if kind in probes)
    return [("reward-model accuracy on probes (new prompts, good answer vs each bad kind)",
             f"{probes['all']:.3f} ({kinds})")]  # fmt: skip


def _markdown(summary: dict[str, Any], table_prompts) -> str:
    rm, sft, ppo = summary["rm"], summary["sft"], summary["ppo"]
    plots = "".join(f"![{Path(p).stem}]({Path(p).name})\n" for p in summary["plots"])
    return "\n".join(
        [
            "# Text RLHF report",
            "",
            "All numbers are on held-out prompts (the data's eval split).",
            "",
            "| | value |",
            "|---|---:|",
            f"| reward-model accuracy (held-out pairs) | {rm['accuracy']:.3f} |",
            *[f"| {name} | {value} |" for name, value in probe_rows(summary)],
            f"| RM score, chosen / rejected answers | {rm['chosen_score']:+.3f} / "
            f"{rm['rejected_score']:+.3f} |",
            f"| mean RM score of SFT responses (sampled) | {sft['score_mean']:+.3f} |",
            f"| mean RM score of PPO responses (sampled) | {ppo['score_mean']:+.3f} |",
            f"| mean RM score, greedy: SFT / PPO | {sft['greedy_score_mean']:+.3f} / "
            f"{ppo['greedy_score_mean']:+.3f} |",
            "| KL(PPO actor \\|\\| SFT reference) per response (nats; exact over the vocabulary "
            f"at each token, summed) | {ppo['kl_to_reference']:.3f} |",
            *[f"| {name} | {value} |" for name, value in degeneration_rows(summary)],
            *_judge_rows(summary),
            "",
            "## The same held-out prompts, three models (greedy; reward-model and judge scores)",
            "",
            summary["tables"]["answers"],
            "",
            "## Reward-model scores of good and bad answers",
            "",
            summary["tables"]["rm_scores"],
            "",
            "## PPO curves",
            "",
            plots,
        ]
    )
