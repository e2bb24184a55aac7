"""Step 3's maths: per-token rewards (KL penalty + clipped score), the KL controller, and the
experience that the shared core's ``compute_gae`` and ``ppo_update`` then consume.

The flow of one iteration (``rlhf_text.ppo_trainer`` runs it):

1. ``collect_rollout`` on the text env with the actor: B prompts, one response each; the
   env's reward-model score arrives as the reward of the response's last real token.
2. :func:`reference_logprobs`: the frozen reference scores the same tokens in one pass.
3. :func:`compute_rewards`: ``r_t = -kl_coef * KL_t``, plus ``clip(score)`` on the last token.
4. ``compute_gae`` with ``gamma = 1`` and the response's end as terminal: the score is the
   whole return, so a response cut at ``max_new_tokens`` is scored as it stands and nothing is
   bootstrapped past it (as in DeepSpeed-Chat).
5. ``ppo_update`` with :class:`EngineStepper`: actor and critic step their own optimisers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import torch
from torch.nn import functional as F

from agents import ranks
from agents.losses import KLEstimator, PPOLossTerms, kl_penalty
from agents.ppo import PPOConfig
from agents.rollout import RolloutBatch


@dataclass
class KLConfig:
    """The KL penalty that keeps the actor near the reference (Ziegler et al. 2019)."""

    coef: float = 0.1
    """initial KL coefficient (DeepSpeed-Chat's kl_ctl = 0.1)"""
    controller: Literal["fixed", "adaptive"] = "fixed"
    """'adaptive' moves coef towards a target KL per response (Ziegler et al. 2019, sec. 2.2)"""
    target: float = 6.0
    """adaptive: the target KL (nats per response)"""
    horizon: int = 10_000
    """adaptive: responses over which the coefficient may change by a factor of about e"""
    estimator: KLEstimator = "k1"
    """per-token KL estimate in the reward: k1 = logp - ref_logp (DeepSpeed-Chat), k3, ..."""
    log_exact: bool = True
    """also log ``objective/kl_exact``: the exact KL of the actor's next-token distributions
    from the reference's over the whole vocabulary, summed over each response (never
    negative, unlike k1's mean); costs one more no-grad actor pass per iteration"""

    def __post_init__(self) -> None:
        if self.coef < 0 or self.target <= 0 or self.horizon < 1:
            raise ValueError("KL coef must be >= 0, target > 0 and horizon >= 1")


class KLController:
    """The KL coefficient, fixed or adaptive; its state is one float (checkpointed)."""

    def __init__(self, config: KLConfig) -> None:
        self.config = config
        self.value = config.coef

    def update(self, mean_kl: float, num_responses: int) -> None:
        """Adaptive: ``coef *= 1 + clip(KL / target - 1, -0.2, 0.2) * n / horizon``."""
        if self.config.controller == "fixed":
            return
        error = min(max(mean_kl / self.config.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * num_responses / self.config.horizon

    def state_dict(self) -> dict[str, float]:
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.value = float(state["value"])


@dataclass
class TextPPOConfig(PPOConfig):
    """PPO's coefficients for text, DeepSpeed-Chat's step 3 as this type's own defaults: one
    epoch, clip 0.2, value clip 0.2, gamma 1, lambda 0.95, whole responses per minibatch, no
    per-minibatch advantage whitening (``ppo.*`` in a text config)."""

    update_epochs: int = 1
    num_minibatches: int = 1
    minibatch_over: Literal["steps", "rows"] = "rows"
    value_clip_coef: float | None = 0.2
    vf_coef: float = 1.0
    max_grad_norm: float | None = 1.0
    norm_adv: bool = False
    gamma: float = 1.0
    gae_lambda: float = 0.95


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """The index of each row's last real response token, (B,).

    This is THE token that receives the reward-model score: the stop token (EOS) when the
    response ended on one, else the ``max_new_tokens``-th token. The text env pays its score
    on that step, and :func:`compute_rewards` places the clipped score there; both use this
    definition (tests/rlhf_text/test_ppo.py checks they agree).
    """
    lengths = mask.sum(1).long()
    if (lengths < 1).any():
        raise ValueError("every response must have at least one real token")
    return lengths - 1


def compute_rewards(
    scores: torch.Tensor,
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    mask: torch.Tensor,
    kl_coef: float,
    clip_score: float | None = 5.0,
    estimator: KLEstimator = "k1",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token rewards: a KL penalty on every real token plus the score on the last one.

    ``r_t = -kl_coef * KL_t`` for real tokens, and ``r_last += clip(score, -c, c)`` at
    :func:`last_token_index` (DeepSpeed-Chat's ``compute_rewards``; ``c = 5`` there).

    Args:
        scores: (B,) reward-model scores of the whole responses.
        logprobs: (B, T) actor log-probs of the sampled tokens at collection.
        ref_logprobs: (B, T) the frozen reference's log-probs of the same tokens.
        mask: (B, T) 1 for real response tokens.
        kl_coef: the current KL coefficient.
        clip_score: clip the score to [-c, c]; None for no clip.
        estimator: the per-token KL estimate.

    Returns:
        ``(rewards, kl)``, (B, T) each, 0 on padding.
    """
    kl = kl_penalty(logprobs, ref_logprobs, estimator) * mask
    rewards = -kl_coef * kl
    clipped = scores if clip_score is None else scores.clamp(-clip_score, clip_score)
    rows = torch.arange(scores.shape[0], device=scores.device)
    rewards[rows, last_token_index(mask)] += clipped.to(rewards.dtype)
    return rewards * mask, kl


@torch.no_grad()
def sequence_logprobs(
    model: torch.nn.Module,
    ids: torch.Tensor,
    attention_mask: torch.Tensor,
    response_length: int,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Log-probs (B, T) of the last ``T = response_length`` tokens of ``ids`` under ``model``."""
    log_probs = response_log_softmax(model, ids, attention_mask, response_length, temperature)
    tokens = ids[:, -response_length:]
    return log_probs.gather(-1, tokens[..., None]).squeeze(-1)


def response_log_softmax(
    model: torch.nn.Module,
    ids: torch.Tensor,
    attention_mask: torch.Tensor,
    response_length: int,
    temperature: float,
) -> torch.Tensor:
    """``log_softmax(logits / temperature)`` (B, T, V) at the positions that predict the last
    ``T`` tokens of ``ids``."""
    positions = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
    out = model(
        input_ids=ids,
        attention_mask=attention_mask,
        position_ids=positions,
        use_cache=False,
        logits_to_keep=response_length + 1,
    )
    logits = out.logits[:, :response_length].float() / temperature  # (B, T, V)
    return F.log_softmax(logits, dim=-1)


@torch.no_grad()
def exact_token_kl(
    model: torch.nn.Module,
    reference: torch.nn.Module,
    ids: torch.Tensor,
    attention_mask: torch.Tensor,
    response_length: int,
    temperature: float = 1.0,
) -> torch.Tensor:
    """KL(model || reference) of the next-token distributions at each response position,
    summed over the whole vocabulary, (B, T): ``sum_v p(v) (log p(v) - log q(v))``.

    Unlike the sampled-token estimates (``k1 = log p(y) - log q(y)`` can be negative for any
    one sample), this is the exact divergence of the two distributions given the same
    context, so it is never negative (float rounding below 0 is clipped).
    """
    log_p = response_log_softmax(model, ids, attention_mask, response_length, temperature)
    log_q = response_log_softmax(reference, ids, attention_mask, response_length, temperature)
    return kl_of_log_softmax(log_p, log_q)


def kl_of_log_softmax(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """``sum_v p(v) (log p(v) - log q(v))`` over the last dim: (..., V) -> (...), >= 0."""
    return (log_p.exp() * (log_p - log_q)).sum(-1).clamp_min(0.0)


def score_stats(scores: torch.Tensor) -> dict[str, float]:
    """Mean, std, min and max of a batch of scores, for logging."""
    return {
        "objective/score": float(scores.mean()),
        "objective/score_std": float(scores.std()) if scores.numel() > 1 else 0.0,
        "objective/score_min": float(scores.min()),
        "objective/score_max": float(scores.max()),
    }


def experience_metrics(
    batch: RolloutBatch,
    scores: torch.Tensor,
    kl: torch.Tensor,
    kl_coef: float,
    exact_kl: torch.Tensor | None = None,
) -> dict[str, float]:
    """What people watch in RLHF runs: score, KL, length and how often the model stops, and
    with ``exact_kl`` (B, T) its per-response sum (``objective/kl_exact``).

    Over the whole batch: with ranks sharing it out, each row's numbers are gathered from
    every rank first, in one collective (:func:`agents.ranks.gather_rows`), so every rank
    logs, and the KL controller sees, what one process holding the batch would.
    """
    rows = torch.arange(batch.shape[0], device=batch.mask.device)
    ended_on_stop = batch.terminated[rows, last_token_index(batch.mask)]
    columns = [scores, kl.sum(1), batch.mask.sum(1), ended_on_stop]
    if exact_kl is not None:
        columns.append((exact_kl * batch.mask).sum(1))
    per_row = torch.stack([column.double() for column in columns], 1)
    whole = torch.tensor(ranks.gather_rows(per_row.tolist()), dtype=torch.float64)
    scores, kl_sums, lengths, ended = whole.T[:4]
    metrics = score_stats(scores)
    metrics.update(
        {
            "objective/kl": float(kl_sums.mean()),
            "objective/kl_coef": kl_coef,
            "objective/kl_per_token": float(kl_sums.sum() / lengths.sum().clamp_min(1.0)),
            "rollout/response_length": float(lengths.mean()),
            "rollout/eos_rate": float(ended.mean()),
        }
    )
    if exact_kl is not None:
        metrics["objective/kl_exact"] = float(whole[:, 4].mean())
    return metrics


class TrainStep(Protocol):
    """What :class:`EngineStepper` needs of an engine (``rlhf_text.engine.TrainEngine``)."""

    def backward(self, loss: torch.Tensor) -> None:
        """Accumulate the gradients of a scalar loss."""
        ...

    def step(self, max_grad_norm: float | None = None) -> float:
        """Clip to the smaller of its own limit and ``max_grad_norm``, step, zero the
        gradients; return the pre-clip gradient norm."""
        ...


class EngineStepper:
    """Steps the actor and the critic with their own optimisers (DeepSpeed-Chat's two engines).

    The actor minimises ``policy_loss - ent_coef * entropy``, the critic ``vf_coef *
    value_loss``. Gradient clipping: each engine clips its own gradient norm to the smaller
    of ``PPOConfig.max_grad_norm`` and its ``OptimConfig.max_grad_norm`` (None on either side
    is no limit), so the PPO setting is honoured as on the arm (``agents.ppo.TorchStepper``)
    and an engine's own limit can only tighten it. The arm clips one norm over all its
    parameters (one optimiser); here actor and critic are clipped separately, as
    DeepSpeed-Chat's two engines are; with a shared trunk (one engine) it is the same.
    """

    def __init__(self, actor_engine: TrainStep, critic_engine: TrainStep | None = None) -> None:
        self.actor_engine = actor_engine
        self.critic_engine = critic_engine

    def step(self, terms: PPOLossTerms, config: PPOConfig) -> float:
        """Backward and step each engine; return the pre-clip norm over all their parameters."""
        actor_loss = terms.policy_loss - config.ent_coef * terms.entropy
        max_norm = config.max_grad_norm
        if self.critic_engine is None:  # shared trunk: one engine, one loss
            self.actor_engine.backward(actor_loss + config.vf_coef * terms.value_loss)
            return float(self.actor_engine.step(max_norm))
        self.actor_engine.backward(actor_loss)
        self.critic_engine.backward(config.vf_coef * terms.value_loss)
        actor_norm = float(self.actor_engine.step(max_norm))
        critic_norm = float(self.critic_engine.step(max_norm))
        return math.sqrt(actor_norm**2 + critic_norm**2)
