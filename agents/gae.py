"""Generalised Advantage Estimation (Schulman et al. 2016, arXiv:1506.02438)."""

from __future__ import annotations

import torch


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    mask: torch.Tensor | None = None,
    gamma: float = 0.99,
    gae_lambda: float = 0.95,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns for a ``[B, T]`` rollout.

    ``delta_t = r_t + gamma * V(s_{t+1}) * (1 - terminated_t) - V(s_t)`` and
    ``A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}`` with
    ``done = terminated | truncated``. ``lambda = 1`` gives discounted Monte-Carlo returns
    minus the baseline (bootstrapped only at the rollout's end and at truncations);
    ``lambda = 0`` gives the one-step TD error. A time-limit truncation is not a terminal
    state: it bootstraps from ``next_values`` (the value of the final observation), as in
    Pardo et al. 2018, "Time Limits in Reinforcement Learning".

    Masked steps (``mask == 0``) change nothing: their advantage is 0 and the recursion
    passes through them, so padding between or after real steps leaves the real steps'
    advantages as they would be without it.

    Args:
        rewards: ``[B, T]``.
        values: ``[B, T]`` V(s_t).
        next_values: ``[B, T]`` V(s_{t+1}); at a truncation, V(final observation).
        terminated: ``[B, T]`` bool or 0/1.
        truncated: ``[B, T]`` bool or 0/1.
        mask: ``[B, T]`` 1 for real steps, or None for all real.
        gamma: discount factor.
        gae_lambda: the GAE lambda.

    Returns:
        ``(advantages, returns)``, both ``[B, T]``, with ``returns = advantages + values``
        (0 at masked steps).
    """
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be [B, T], got shape {tuple(rewards.shape)}")
    for name, tensor in (
        ("values", values),
        ("next_values", next_values),
        ("terminated", terminated),
        ("truncated", truncated),
    ):
        if tensor.shape != rewards.shape:
            raise ValueError(
                f"{name} has shape {tuple(tensor.shape)}, rewards {tuple(rewards.shape)}"
            )
    dtype = values.dtype if values.is_floating_point() else torch.float32
    rewards, values, next_values = rewards.to(dtype), values.to(dtype), next_values.to(dtype)
    not_terminal = 1.0 - terminated.to(dtype)
    not_done = 1.0 - torch.maximum(terminated.to(dtype), truncated.to(dtype))
    real = torch.ones_like(rewards) if mask is None else mask.to(dtype)

    # Everything but the recursion at once; the loop over T is then three small ops a step,
    # on [T, B] copies so that each step's row is contiguous (a quarter of the per-step ops
    # the direct form needs: about 3 us per env step of the arm's update, now under 1).
    deltas = (rewards + gamma * next_values * not_terminal - values).T.contiguous()
    decays = (gamma * gae_lambda * not_done).T.contiguous()
    is_real = (real > 0).T.contiguous()
    gaes = torch.empty_like(deltas)
    carry = torch.zeros_like(deltas[0])  # A_{t+1} of the next real step
    for t in reversed(range(deltas.shape[0])):
        gae = gaes[t]
        torch.mul(decays[t], carry, out=gae)  # not addcmul: a fused multiply-add rounds
        gae += deltas[t]  # differently from the definition above
        carry = torch.where(is_real[t], gae, carry)
    advantages = gaes.T.contiguous() * real
    returns = (advantages + values) * real
    return advantages, returns
