"""The pairwise (Bradley-Terry) reward-model loss and its metrics.

A reward model r gives each of two candidates a scalar score; the Bradley-Terry model says the
chosen one is preferred with probability ``sigmoid(r_chosen - r_rejected)``, and training
maximises the log of that probability over the labelled pairs (InstructGPT, Ouyang et al.
2022, eq. 1; DeepSpeed-Chat step 2). Only score differences matter, so the loss is unchanged
by adding a constant to every score.

Shared by the text reward model (scores of prompt + response) and, later, reward models
learned from pairs of arm trajectories. Pure tensor functions: no text, no transformers.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def _check_pair(chosen_scores: torch.Tensor, rejected_scores: torch.Tensor) -> None:
    if chosen_scores.shape != rejected_scores.shape:
        raise ValueError(
            f"chosen and rejected scores must have the same shape, got "
            f"{tuple(chosen_scores.shape)} and {tuple(rejected_scores.shape)}"
        )
    if chosen_scores.numel() == 0:
        raise ValueError("no pairs to score")


def pairwise_loss(
    chosen_scores: torch.Tensor,
    rejected_scores: torch.Tensor,
    target: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean of ``-log sigmoid(r_chosen - r_rejected)`` over the pairs.

    With ``target`` (the probability that the first candidate is preferred, per pair) it is
    the Bradley-Terry cross-entropy ``-[t log sigmoid(m) + (1 - t) log sigmoid(-m)]``: ``t = 1``
    is the plain loss, ``t = 0`` swaps the pair, ``t = 0.5`` (an "equal" label, Christiano et
    al. 2017) pulls the two scores together.

    ``F.logsigmoid`` keeps it finite for large margins of either sign (``log(sigmoid(x))``
    underflows to ``log(0)`` for x below about -100 in float32).

    Args:
        chosen_scores: (N,) scores of the preferred (or first) candidates.
        rejected_scores: (N,) scores of the other candidates, pair by pair.
        target: (N,) probabilities in [0, 1], or None for all 1.

    Returns:
        A scalar tensor; ``log(2)`` when the scores are equal, towards 0 as the chosen scores
        pull ahead. Its gradient raises chosen scores and lowers rejected ones.
    """
    _check_pair(chosen_scores, rejected_scores)
    margins = chosen_scores.float() - rejected_scores.float()  # (N,)
    if target is None:
        return -F.logsigmoid(margins).mean()
    target = target.to(margins.dtype)
    return -(target * F.logsigmoid(margins) + (1 - target) * F.logsigmoid(-margins)).mean()


@torch.no_grad()
def preference_metrics(
    chosen_scores: torch.Tensor, rejected_scores: torch.Tensor
) -> dict[str, float]:
    """How well the scores order the pairs (DeepSpeed-Chat's step-2 evaluation, and more).

    Args:
        chosen_scores: (N,) scores of the preferred candidates.
        rejected_scores: (N,) scores of the other candidates.

    Returns:
        ``accuracy``: fraction of pairs with chosen > rejected (ties count as wrong);
        ``chosen_score`` and ``rejected_score``: mean scores; ``margin``: mean of
        ``chosen - rejected``.
    """
    _check_pair(chosen_scores, rejected_scores)
    chosen, rejected = chosen_scores.double(), rejected_scores.double()
    return {
        "accuracy": float((chosen > rejected).double().mean()),
        "chosen_score": float(chosen.mean()),
        "rejected_score": float(rejected.mean()),
        "margin": float((chosen - rejected).mean()),
    }
