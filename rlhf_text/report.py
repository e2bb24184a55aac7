"""What people write by hand after a DeepSpeed-Chat run, written for them.

- :func:`held_out_metrics`: the mean reward-model score of sampled responses to held-out
  prompts and their KL to the reference (the numbers that say whether PPO helped).
- :func:`answers_table`: the same held-out prompts answered by base, SFT and PPO models.
- :func:`score_table`: reward-model scores of good (chosen) and bad (rejected) answers.
- :func:`plot_curves`: PNG plots of actor loss, critic loss and reward score.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from rlhf_text.degeneration import degeneration_stats, looks_looping
from rlhf_text.ppo import exact_token_kl


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def readable_text(text: str) -> str:
    """``text`` without U+FFFD: a response cut off inside a multi-byte character (byte-level
    BPE emits characters a byte at a time) decodes its unfinished bytes to that glyph."""
    return text.replace("\ufffd", "")


@torch.no_grad()
def generate_responses(
    model,
    tokenizer,
    prompts: Sequence[str],
    max_new_tokens: int,
    do_sample: bool = False,
    seed: int = 0,
    batch_size: int = 16,
) -> tuple[list[str], list[torch.Tensor]]:
    """Responses (text, and token ids without padding) to ``prompts``, greedy or sampled."""
    torch.manual_seed(seed)
    texts, token_ids = [], []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start : start + batch_size])
        inputs = tokenizer(chunk, return_tensors="pt", padding=True)
        out = model.generate(
            **inputs, max_new_tokens=max_new_tokens, do_sample=do_sample, top_k=None,
            pad_token_id=tokenizer.pad_token_id,
        )  # fmt: skip
        for row in out[:, inputs["input_ids"].shape[1] :]:
            ids = row.tolist()
            if tokenizer.eos_token_id in ids:
                ids = ids[: ids.index(tokenizer.eos_token_id) + 1]
            token_ids.append(torch.tensor(ids, dtype=torch.long))
            texts.append(readable_text(tokenizer.decode(ids, skip_special_tokens=True)))
    return texts, token_ids


@torch.no_grad()
def kl_to_reference(
    model,
    reference,
    tokenizer,
    prompts: Sequence[str],
    responses: Sequence[torch.Tensor],
    batch_size: int = 16,
) -> float:
    """Mean over responses of the exact KL per response: at each response token, the KL of
    ``model``'s next-token distribution from ``reference``'s over the whole vocabulary
    (:func:`rlhf_text.ppo.exact_token_kl`), summed over the response. Never negative, unlike
    the sampled estimate ``sum_t log pi(y_t) - log ref(y_t)``.

    Rows go ``batch_size`` at a time, left-padded so every response ends at the last
    position; a row's positions before its own response are masked out of its sum."""
    if model is reference:
        return 0.0
    total = []
    pad = tokenizer.pad_token_id
    for start in range(0, len(prompts), batch_size):
        rows = []
        for prompt, response in zip(
            prompts[start : start + batch_size], responses[start : start + batch_size], strict=True
        ):
            prompt_ids = torch.tensor(tokenizer(prompt)["input_ids"], dtype=torch.long)
            rows.append((torch.cat([prompt_ids, response]), response.numel()))
        width = max(len(ids) for ids, _ in rows)
        length = max(1, max(n for _, n in rows))
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        in_response = torch.zeros(len(rows), length)
        for row, (sequence, count) in enumerate(rows):
            ids[row, width - len(sequence) :] = sequence
            mask[row, width - len(sequence) :] = 1
            if count:
                in_response[row, length - count :] = 1.0
        per_token = exact_token_kl(model, reference, ids, mask, length)  # (B, T)
        total.extend((per_token * in_response).sum(-1).tolist())
    return float(np.mean(total))


def held_out_metrics(
    model,
    reference,
    tokenizer,
    scorer,
    prompts: Sequence[str],
    max_new_tokens: int,
    seed: int,
    judge=None,
    batch_size: int = 16,
) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Mean reward-model score of sampled responses (and of greedy ones), the exact KL to the
    reference, the degeneration statistics of the sampled responses and, with ``judge`` (a
    ``TextReward`` never trained on, :mod:`rlhf_text.judge`), its mean scores.

    Returns:
        The metrics, and the responses themselves (``"sampled"``, ``"greedy"``).
    """
    sampled, sampled_ids = generate_responses(
        model, tokenizer, prompts, max_new_tokens, do_sample=True, seed=seed,
        batch_size=batch_size,
    )  # fmt: skip
    greedy, _ = generate_responses(
        model, tokenizer, prompts, max_new_tokens, do_sample=False, batch_size=batch_size
    )
    scores = scorer.score(list(prompts), sampled)
    greedy_scores = scorer.score(list(prompts), greedy)
    metrics = {
        "score_mean": float(np.mean(scores)),
        "score_std": float(np.std(scores)),
        "greedy_score_mean": float(np.mean(greedy_scores)),
        "kl_to_reference": kl_to_reference(model, reference, tokenizer, prompts, sampled_ids),
        "response_words": float(np.mean([len(r.split()) for r in sampled])),
    }
    metrics.update(degeneration_stats(sampled))
    if judge is not None:
        metrics["judge_score_mean"] = float(np.mean(judge.score(list(prompts), sampled)))
        metrics["greedy_judge_score_mean"] = float(np.mean(judge.score(list(prompts), greedy)))
    return metrics, {"sampled": sampled, "greedy": greedy}


def answers_table(
    answers: dict[str, list[str]],
    prompts: Sequence[str],
    scores: dict[str, Sequence[float]],
    judge_scores: dict[str, Sequence[float]] | None = None,
) -> str:
    """Markdown: one row per prompt, one column per model: the answer, the reward model's
    score and (with ``judge_scores``) the independent judge's; an answer that loops
    (:func:`rlhf_text.degeneration.looks_looping`) is marked so."""
    names = list(answers)
    lines = ["| prompt | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for i, prompt in enumerate(prompts):
        cells = []
        for name in names:
            marks = [f"RM {scores[name][i]:+.2f}"]
            if judge_scores is not None:
                marks.append(f"judge {judge_scores[name][i]:+.2f}")
            if looks_looping(answers[name][i]):
                marks.append("**loops**")
            cells.append(f"{_cell(answers[name][i])} *({', '.join(marks)})*")
        lines.append(f"| {_cell(prompt)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def score_table(
    scorer,
    prompts: Sequence[str],
    good: Sequence[str],
    bad: Sequence[str],
    shown: Sequence[str] | None = None,
) -> str:
    """Markdown: the reward model's score of a good and a bad answer to each prompt
    (``shown``: the prompts as the table prints them, default ``prompts``)."""
    good_scores = scorer.score(list(prompts), list(good))
    bad_scores = scorer.score(list(prompts), list(bad))
    lines = [
        "| prompt | good answer | score | bad answer | score |",
        "|---|---|---:|---|---:|",
    ]
    rows = zip(shown or prompts, good, good_scores, bad, bad_scores, strict=True)
    for prompt, g, gs, b, bs in rows:
        lines.append(f"| {_cell(prompt)} | {_cell(g)} | {gs:+.2f} | {_cell(b)} | {bs:+.2f} |")
    return "\n".join(lines)


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display on a server)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: str | Path) -> Path:
    """Writes ``fig`` as a PNG at ``path`` (folders made) and frees it."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_curves(
    history: list[dict[str, float]],
    keys: dict[str, str],
    path: str | Path,
    x_key: str = "iteration",
    title: str = "",
) -> Path:
    """One PNG with a panel per metric (``keys``: metric key -> panel title)."""
    plt = _pyplot()

    present = {k: v for k, v in keys.items() if any(k in row for row in history)}
    if not present:
        raise ValueError(f"none of {list(keys)} is in the history")
    fig, axes = plt.subplots(1, len(present), figsize=(4.2 * len(present), 3.2), squeeze=False)
    for ax, (key, label) in zip(axes[0], present.items(), strict=True):
        rows = [row for row in history if key in row]
        ax.plot([row[x_key] for row in rows], [row[key] for row in rows], color="tab:blue")
        ax.set_title(label)
        ax.set_xlabel(x_key)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return _save(plt, fig, path)


def plot_overoptimisation(
    history: list[dict[str, float]], path: str | Path, reward_key: str = "objective/score"
) -> Path | None:
    """The over-optimisation curve (Gao et al. 2022, "Scaling laws for reward model
    overoptimization"): the training reward and the independent judge per PPO iteration on
    two axes, the best-judged iteration marked. None when the run logged no judge."""
    plt = _pyplot()

    rows = [row for row in history if reward_key in row and "judge/score" in row]
    if not rows:
        return None
    x = [row["iteration"] for row in rows]
    fig, reward_axis = plt.subplots(figsize=(6.4, 3.4))
    reward_axis.plot(x, [row[reward_key] for row in rows], color="tab:blue")
    reward_axis.set_ylabel("training reward (reward model)", color="tab:blue")
    reward_axis.set_xlabel("iteration")
    judge_axis = reward_axis.twinx()
    judged = [row["judge/score"] for row in rows]
    judge_axis.plot(x, judged, color="tab:orange")
    judge_axis.set_ylabel("independent judge", color="tab:orange")
    best = int(np.argmax(judged))
    judge_axis.axvline(x[best], color="tab:orange", linestyle=":", alpha=0.7)
    reward_axis.set_title(f"training reward vs judge (best judged: iteration {int(x[best])})")
    reward_axis.grid(alpha=0.3)
    return _save(plt, fig, path)
