"""The ActorCritic protocol: what the PPO core asks of any policy, Gaussian or language model."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch

from agents.rollout import Observation


class ActOutput(NamedTuple):
    """One step for a batch of ``N`` environments."""

    actions: torch.Tensor  # (N, ...) as sampled, before any env-side clipping
    logprobs: torch.Tensor  # (N,)
    values: torch.Tensor | None  # (N,), or None: collect_rollout scores the rollout at the end
    state: Any = None  # recurrent state carried to the next step (a language model's KV cache)


class EvalOutput(NamedTuple):
    """A whole ``[B, T]`` minibatch scored under the current parameters."""

    logprobs: torch.Tensor  # (B, T)
    entropy: torch.Tensor  # (B, T)
    values: torch.Tensor  # (B, T)


@runtime_checkable
class ActorCritic(Protocol):
    """A policy and value function the shared PPO core can collect with and update.

    ``act`` runs once per environment step on ``[N, ...]`` observations; ``evaluate`` scores
    a ``[B, T]`` minibatch (arm: ``T = 1`` single steps; text: whole responses in one
    forward pass); ``value`` gives V for bootstrapping. Implementations are
    ``torch.nn.Module`` s so their ``state_dict`` is the checkpoint.
    """

    def act(
        self, observations: Observation, state: Any = None, deterministic: bool = False
    ) -> ActOutput: ...

    def evaluate(
        self, observations: Observation, actions: torch.Tensor, extras: dict[str, torch.Tensor]
    ) -> EvalOutput: ...

    def value(self, observations: Observation, state: Any = None) -> torch.Tensor: ...

    def parameters(self, recurse: bool = True): ...


# -- optional capabilities, declared instead of probed --------------------------------------


@runtime_checkable
class ScoresRollouts(Protocol):
    """A policy whose critic scores a whole rollout in one pass (a language model's critic
    reads the full text); ``collect_rollout`` calls it when ``act`` left the values out."""

    def rollout_values(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(values, next_values)``, each ``(B, T)``."""
        ...


@runtime_checkable
class NormalizesObservations(Protocol):
    """A policy that keeps running observation statistics; the training loop feeds it each
    rollout's real observations after the update."""

    def update_normalizer(self, observations: torch.Tensor) -> None: ...


@runtime_checkable
class ClosedFormPPO(Protocol):
    """A policy that computes a PPO minibatch's losses and their gradient without autograd
    (``GaussianActorCritic``, :mod:`agents.gaussian_grad`); see ``PPOConfig.loss_backend``."""

    def ppo_loss_and_grad(
        self,
        minibatch: dict[str, Any],
        advantages: torch.Tensor,
        clip_coef: float,
        vf_coef: float,
        ent_coef: float,
        value_clip_coef: float | None,
    ) -> Any:
        """The loss terms (gradient written into ``.grad``), or None where it cannot apply."""
        ...
