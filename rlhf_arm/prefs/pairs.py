"""Which pairs a labeller is asked about, and how many labels each round spends.

- :func:`label_schedule`: the budget over the rounds (an initial share, then constant or
  decaying as 1/round).
- :func:`same_start_pairs`: with ``pairing='same_start'``, only clips of the same start state
  and window are compared, as text pairs share a prompt.
- :func:`selection_score`: how much a candidate pair is worth asking about (ensemble
  disagreement, or how close the model rates the two clips).
"""

from __future__ import annotations

import numpy as np
import torch

from rlhf_arm.prefs.config import PreferenceConfig
from rlhf_arm.prefs.reward_model import TrajectoryRewardModel, preference_variance


def allocate(total: int, weights: np.ndarray) -> list[int]:
    """``total`` split in proportion to ``weights`` into integers that sum to it."""
    exact = total * np.asarray(weights, float) / np.sum(weights)
    counts = np.floor(exact).astype(int)
    remainder = total - counts.sum()
    counts[np.argsort(counts - exact, kind="stable")[:remainder]] += 1
    return counts.tolist()


def label_schedule(config: PreferenceConfig) -> list[int]:
    """Labels asked for in each round: the initial share first, then the schedule."""
    initial = max(1, round(config.label_budget * config.initial_label_fraction))
    if config.rounds == 1 or initial >= config.label_budget:
        return [config.label_budget] + [0] * (config.rounds - 1)
    later = np.arange(1, config.rounds, dtype=float)
    weights = np.ones_like(later) if config.label_schedule == "constant" else 1.0 / later
    return [initial, *allocate(config.label_budget - initial, weights)]


def same_start_pairs(rows: np.ndarray, starts: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Every pair ``(i, j)``, ``i < j``, of ``rows`` with equal ``starts`` (not -1) and
    ``windows``, as an ``(n, 2)`` array in row order."""
    groups: dict[tuple[int, int], list[int]] = {}
    for row in np.sort(rows):
        if starts[row] >= 0:
            groups.setdefault((int(starts[row]), int(windows[row])), []).append(int(row))
    pairs = [
        (a, b)
        for members in groups.values()
        for k, a in enumerate(members)
        for b in members[k + 1 :]
    ]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def selection_score(
    selection: str,
    model: TrajectoryRewardModel,
    observations: torch.Tensor,
    actions: torch.Tensor,
    left: np.ndarray,
    right: np.ndarray,
) -> tuple[str, np.ndarray]:
    """How much each candidate pair is worth asking about (higher first), and its name.

    'uncertainty': the ensemble variance of P(left preferred); 'margin': ``1/2 - |P - 1/2|``
    with P from the ensemble mean's returns, largest for pairs the model rates alike.
    """
    if selection == "uncertainty":
        return "variance", preference_variance(model, observations, actions, left, right)
    with torch.no_grad():
        returns = model.segment_returns(observations, actions).mean(0)  # (S,)
        probability = torch.sigmoid(returns[left] - returns[right]).numpy()
    return "closeness", 0.5 - np.abs(probability - 0.5)
