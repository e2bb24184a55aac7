"""The diagonal Gaussian's log-density and entropy: one formula for the autograd policy
(:mod:`agents.gaussian`, torch) and its closed-form gradient (:mod:`agents.gaussian_grad`,
numpy). Both work on either library's arrays, since they use only arithmetic."""

from __future__ import annotations

import math
from typing import TypeVar

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)

Array = TypeVar("Array")


def log_prob_from_standardised(squared_sum: Array, log_std_sum: Array, action_dim: int) -> Array:
    """``log N(a; mean, diag(std^2))`` summed over the action's ``A`` dimensions, from
    ``squared_sum = sum(z^2)`` of the standardised action ``z = (a - mean) / std`` and
    ``log_std_sum = sum(log std)``: ``-sum(z^2) / 2 - sum(log std) - A log(2 pi) / 2``."""
    return squared_sum * -0.5 - (log_std_sum + action_dim * HALF_LOG_2PI)


def entropy(log_std_sum: Array, action_dim: int) -> Array:
    """Entropy of the diagonal Gaussian: ``sum(log std) + A (1 + log(2 pi)) / 2``."""
    return log_std_sum + action_dim * (0.5 + HALF_LOG_2PI)
