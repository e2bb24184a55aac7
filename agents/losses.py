"""PPO losses and padding-aware tensor helpers (pure functions).

The clipped surrogate and clipped value loss follow Schulman et al. 2017 (arXiv:1707.06347)
and the "37 implementation details of PPO" (Huang et al. 2022); the KL estimators follow
Schulman's note "Approximating KL Divergence" (k1 = -log r, k3 = (r - 1) - log r).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

KLEstimator = Literal["k1", "k2", "k3", "abs"]


def _numpy_sees(x: torch.Tensor) -> bool:
    """Whether numpy can work on ``x`` in place of torch: float32 on the CPU, no autograd,
    more than one entry."""
    return (
        x.dtype == torch.float32
        and x.device.type == "cpu"
        and not x.requires_grad
        and x.numel() > 1
    )


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None, dim: int | None = None) -> torch.Tensor:
    """Mean of ``x`` over entries where ``mask`` is 1 (over ``dim``, or all)."""
    if mask is None:
        return x.mean() if dim is None else x.mean(dim)
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp_min(1.0)
    return (x * mask).sum(dim) / mask.sum(dim).clamp_min(1.0)


def masked_var(x: torch.Tensor, mask: torch.Tensor | None, unbiased: bool = True) -> torch.Tensor:
    """Variance of the masked entries of ``x`` (Bessel-corrected when ``unbiased``)."""
    mean = masked_mean(x, mask)
    centred_sq = (x - mean) ** 2
    if mask is None:
        count = torch.tensor(float(x.numel()), dtype=x.dtype)
        var = centred_sq.mean()
    else:
        count = mask.to(x.dtype).sum()
        var = masked_mean(centred_sq, mask)
    if unbiased and count > 1:
        var = var * count / (count - 1)
    return var


def masked_whiten(
    x: torch.Tensor, mask: torch.Tensor | None, shift_mean: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    """``(x - mean) / std`` over the masked entries; masked-out entries become 0."""
    if mask is None and shift_mean and _numpy_sees(x):
        # the arm's minibatches (256 advantages, 80 per update): numpy's five small ops
        # cost less than torch's dispatch of them
        a = x.numpy()
        centred = a - np.add.reduce(a, None) / a.size
        var = np.add.reduce(centred * centred, None) / (a.size - 1)
        centred *= 1.0 / np.sqrt(var + eps)
        return torch.from_numpy(centred)
    if mask is None:  # two reductions instead of the masked route
        mean, var = x.mean(), x.var() if x.numel() > 1 else torch.zeros((), dtype=x.dtype)
    else:
        mean, var = masked_mean(x, mask), masked_var(x, mask)
    whitened = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        whitened = whitened + mean
    return whitened if mask is None else whitened * mask.to(x.dtype)


def kl_penalty(
    logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: KLEstimator = "k1"
) -> torch.Tensor:
    """Per-token KL(policy || reference) estimate from sampled-token log-probs.

    ``k1 = logp - ref_logp`` (what DeepSpeed-Chat subtracts from the reward), ``k2 =
    0.5 * (logp - ref_logp)**2``, ``k3 = exp(ref_logp - logp) - 1 - (ref_logp - logp)``
    (unbiased and non-negative), ``abs = |logp - ref_logp|``.
    """
    logratio = logprobs - ref_logprobs
    if estimator == "k1":
        return logratio
    if estimator == "k2":
        return 0.5 * logratio**2
    if estimator == "k3":
        return torch.expm1(-logratio) + logratio
    if estimator == "abs":
        return logratio.abs()
    raise ValueError(f"unknown KL estimator {estimator!r}; use k1, k2, k3 or abs")


def explained_variance(
    values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor | None
) -> float:
    """``1 - Var[returns - values] / Var[returns]``: 1 is perfect, 0 is a constant guess."""
    var_returns = masked_var(returns, mask)
    if var_returns <= 0:
        return float("nan")
    return float(1.0 - masked_var(returns - values, mask) / var_returns)


@dataclass
class PPOLossTerms:
    """The pieces of the PPO objective, each a scalar tensor (means over real steps)."""

    policy_loss: torch.Tensor
    value_loss: torch.Tensor
    entropy: torch.Tensor
    approx_kl: torch.Tensor
    clipfrac: torch.Tensor

    def total(self, vf_coef: float, ent_coef: float) -> torch.Tensor:
        """One loss for a shared optimiser: ``policy - ent_coef * entropy + vf_coef * value``.

        With ``ent_coef == 0`` the entropy stays out of the graph, so backward skips it.
        """
        loss = self.policy_loss + vf_coef * self.value_loss
        return loss - ent_coef * self.entropy if ent_coef else loss


def actor_loss_fn(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor | None,
    clip_coef: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clipped surrogate. Returns ``(loss, approx_kl_k3, clipfrac)``."""
    logratio = logprobs - old_logprobs
    ratio = torch.exp(logratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_coef, 1.0 + clip_coef)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        approx_kl = masked_mean((ratio - 1.0) - logratio, mask)
        clipfrac = masked_mean(((ratio - 1.0).abs() > clip_coef).to(ratio.dtype), mask)
    return loss, approx_kl, clipfrac


def critic_loss_fn(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor | None,
    value_clip_coef: float | None,
) -> torch.Tensor:
    """``0.5 * (V - R)^2``, optionally the max with the clipped version (PPO2's value clip)."""
    loss = (values - returns) ** 2
    if value_clip_coef is not None:
        clipped = old_values + torch.clamp(values - old_values, -value_clip_coef, value_clip_coef)
        loss = torch.maximum(loss, (clipped - returns) ** 2)
    return 0.5 * masked_mean(loss, mask)


def ppo_losses(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    entropy: torch.Tensor,
    mask: torch.Tensor | None = None,
    clip_coef: float = 0.2,
    value_clip_coef: float | None = None,
) -> PPOLossTerms:
    """All PPO loss terms for one minibatch; every mean is over ``mask``.

    Args:
        logprobs: ``[B, T]`` log-probs of the taken actions under the current policy.
        old_logprobs: ``[B, T]`` the same under the behaviour policy.
        advantages: ``[B, T]`` (already normalised if wanted).
        values: ``[B, T]`` current value predictions.
        old_values: ``[B, T]`` values at collection time (for the value clip).
        returns: ``[B, T]`` value targets.
        entropy: ``[B, T]`` policy entropy per step.
        mask: ``[B, T]`` 1 for real steps.
        clip_coef: the surrogate's clip range epsilon.
        value_clip_coef: the value clip range, or None for an unclipped value loss.
    """
    policy_loss, approx_kl, clipfrac = actor_loss_fn(
        logprobs, old_logprobs, advantages, mask, clip_coef
    )
    value_loss = critic_loss_fn(values, old_values, returns, mask, value_clip_coef)
    return PPOLossTerms(
        policy_loss=policy_loss,
        value_loss=value_loss,
        entropy=masked_mean(entropy, mask),
        approx_kl=approx_kl,
        clipfrac=clipfrac,
    )
