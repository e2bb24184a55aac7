"""ppo_update: epochs x minibatches over a RolloutBatch, for any ActorCritic."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Literal, Protocol

import torch

from agents.losses import PPOLossTerms, explained_variance, masked_whiten, ppo_losses
from agents.policy import ActorCritic
from agents.rollout import RolloutBatch


@dataclass
class PPOConfig:
    """Coefficients of the PPO update (defaults: CleanRL's continuous-control PPO)."""

    update_epochs: int = 10
    """passes over the rollout per update"""
    num_minibatches: int = 32
    """minibatches per epoch"""
    minibatch_over: Literal["steps", "rows"] = "steps"
    """'steps' samples single steps from the flattened [B*T] batch (arm); 'rows' samples whole
    rows so a policy scores a response in one pass (text)"""
    clip_coef: float = 0.2
    """surrogate clip range epsilon"""
    value_clip_coef: float | None = None
    """value clip range, None for an unclipped value loss"""
    ent_coef: float = 0.0
    """entropy bonus weight"""
    vf_coef: float = 0.5
    """value loss weight in the shared loss"""
    max_grad_norm: float | None = 0.5
    """global gradient-norm clip, None for none"""
    target_kl: float | None = None
    """stop the update early once a minibatch's approximate KL exceeds 1.5 x this (SB3's rule)"""
    norm_adv: bool = True
    """normalise advantages per minibatch"""
    gamma: float = 0.99
    """discount factor"""
    gae_lambda: float = 0.95
    """GAE lambda"""

    def __post_init__(self) -> None:
        if self.update_epochs < 1 or self.num_minibatches < 1:
            raise ValueError("update_epochs and num_minibatches must be >= 1")
        if not 0.0 < self.clip_coef < 1.0:
            raise ValueError(f"clip_coef must be in (0, 1), got {self.clip_coef}")
        if not (0.0 <= self.gamma <= 1.0 and 0.0 <= self.gae_lambda <= 1.0):
            raise ValueError("gamma and gae_lambda must be in [0, 1]")


class Stepper(Protocol):
    """How the loss terms turn into a parameter update (plain torch, or DeepSpeed engines)."""

    def step(self, terms: PPOLossTerms, config: PPOConfig) -> float:
        """Backward, clip, step, zero the gradients; return the pre-clip gradient norm."""
        ...


class TorchStepper:
    """One optimiser over all parameters and the shared loss ``pg - c_e H + c_v L_V``."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.params = [p for group in optimizer.param_groups for p in group["params"]]

    def step(self, terms: PPOLossTerms, config: PPOConfig) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        terms.total(config.vf_coef, config.ent_coef).backward()
        max_norm = config.max_grad_norm if config.max_grad_norm is not None else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, max_norm)
        self.optimizer.step()
        return float(grad_norm)


def ppo_update(
    policy: ActorCritic,
    optimizer: torch.optim.Optimizer | Stepper,
    batch: RolloutBatch,
    config: PPOConfig,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Run PPO's epochs x minibatches on a rollout whose advantages and returns are set.

    Args:
        policy: the ActorCritic that collected ``batch``.
        optimizer: a torch optimiser over the policy's parameters, or a :class:`Stepper`.
        batch: a ``[B, T]`` rollout after :func:`agents.gae.compute_gae`.
        config: the coefficients.
        generator: the RNG for minibatch shuffling (seeded runs repeat exactly).

    Returns:
        Metrics averaged over the minibatches run: ``loss/policy``, ``loss/value``,
        ``loss/entropy``, ``policy/approx_kl``, ``policy/clipfrac``,
        ``policy/explained_variance``, ``train/grad_norm``, ``train/epochs`` (fewer than
        ``update_epochs`` when ``target_kl`` stopped it) and ``train/minibatches``.
    """
    if batch.advantages is None or batch.returns is None:
        raise ValueError("batch has no advantages/returns: run compute_gae first")
    stepper = TorchStepper(optimizer) if isinstance(optimizer, torch.optim.Optimizer) else optimizer
    b_batch = batch.flatten() if config.minibatch_over == "steps" else batch
    num_rows = b_batch.shape[0]
    minibatch_size = max(1, num_rows // config.num_minibatches)

    sums: dict[str, float] = defaultdict(float)
    minibatches = epochs = 0
    stop = False
    for _ in range(config.update_epochs):
        perm = torch.randperm(num_rows, generator=generator)
        for start in range(0, num_rows - minibatch_size + 1, minibatch_size):
            mb = b_batch.rows(perm[start : start + minibatch_size])
            mb_advantages = mb.advantages
            if config.norm_adv:
                mb_advantages = masked_whiten(mb_advantages, mb.mask)
            new = policy.evaluate(mb.observations, mb.actions, mb.extras)
            terms = ppo_losses(
                new.logprobs,
                mb.logprobs,
                mb_advantages,
                new.values,
                mb.values,
                mb.returns,
                new.entropy,
                mb.mask,
                config.clip_coef,
                config.value_clip_coef,
            )
            if config.target_kl is not None and terms.approx_kl > 1.5 * config.target_kl:
                stop = True
                break
            sums["train/grad_norm"] += stepper.step(terms, config)
            sums["loss/policy"] += terms.policy_loss.item()
            sums["loss/value"] += terms.value_loss.item()
            sums["loss/entropy"] += terms.entropy.item()
            sums["policy/approx_kl"] += terms.approx_kl.item()
            sums["policy/clipfrac"] += terms.clipfrac.item()
            minibatches += 1
        if stop:
            break
        epochs += 1

    metrics = {k: v / max(minibatches, 1) for k, v in sums.items()}
    metrics["policy/explained_variance"] = explained_variance(
        batch.values, batch.returns, batch.mask
    )
    metrics["train/epochs"] = float(epochs)
    metrics["train/minibatches"] = float(minibatches)
    return metrics
