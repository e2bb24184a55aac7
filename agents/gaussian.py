"""GaussianActorCritic: a diagonal-Gaussian MLP policy and an MLP critic for Box actions."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from agents.normalize import RunningNormalizer
from agents.policy import ActOutput, EvalOutput


def _layer(in_dim: int, out_dim: int, gain: float) -> nn.Linear:
    """Orthogonal weights and zero bias (Huang et al. 2022, PPO detail #2)."""
    layer = nn.Linear(in_dim, out_dim)
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def gaussian_log_prob(
    actions: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor
) -> torch.Tensor:
    """Log-density of a diagonal Gaussian summed over the last dim, ``[..., A] -> [...]``.

    Written out rather than through ``torch.distributions.Normal``, whose argument checks and
    object construction cost more than a small MLP's forward pass on every env step.
    """
    z = (actions - mean) * torch.exp(-log_std)
    return (-0.5 * z.pow(2) - log_std - _HALF_LOG_2PI).sum(-1)


def _mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int, out_gain: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [_layer(in_dim, width, math.sqrt(2)), nn.Tanh()]
        in_dim = width
    layers.append(_layer(in_dim, out_dim, out_gain))
    return nn.Sequential(*layers)


def _run_mlp(linears: list[nn.Linear], x: torch.Tensor) -> torch.Tensor:
    """``Sequential(Linear, Tanh, ..., Linear)(x)`` by the same torch calls minus the module
    machinery: 12 ``nn.Module.__call__``s cost about a quarter of an 8-row ``act``."""
    last = len(linears) - 1
    for i, linear in enumerate(linears):
        x = F.linear(x, linear.weight, linear.bias)
        if i < last:
            x = torch.tanh(x)
    return x


class GaussianActorCritic(nn.Module):
    """Separate actor and critic MLPs; a state-independent log-std; running obs normalisation.

    The actor's last layer starts with gain 0.01 so initial actions are near zero mean, the
    critic's with gain 1 (CleanRL's ``ppo_continuous_action.py``).

    Args:
        obs_dim: length of the flat observation.
        action_dim: length of the action.
        hidden: hidden widths for both MLPs.
        init_log_std: the initial log standard deviation of every action dimension.
        normalize_observations: keep a running mean/std of observations (saved in the
            ``state_dict``); it changes only through :meth:`update_normalizer`.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden: tuple[int, ...] = (64, 64),
        init_log_std: float = 0.0,
        normalize_observations: bool = True,
    ) -> None:
        super().__init__()
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.actor_mean = _mlp(obs_dim, hidden, action_dim, out_gain=0.01)
        self.critic = _mlp(obs_dim, hidden, 1, out_gain=1.0)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(init_log_std)))
        # the Linear layers in order, for _run_mlp (plain lists: the Sequentials own them)
        self._actor_linears = [m for m in self.actor_mean if isinstance(m, nn.Linear)]
        self._critic_linears = [m for m in self.critic if isinstance(m, nn.Linear)]
        self.normalizer = RunningNormalizer((obs_dim,)) if normalize_observations else None

    def _features(self, observations: torch.Tensor) -> torch.Tensor:
        observations = observations.to(torch.float32)
        return observations if self.normalizer is None else self.normalizer(observations)

    def update_normalizer(self, observations: torch.Tensor) -> None:
        """Fold a batch of raw observations ``[..., obs_dim]`` into the running statistics."""
        if self.normalizer is not None:
            self.normalizer.update(observations)

    def act(
        self, observations: torch.Tensor, state: Any = None, deterministic: bool = False
    ) -> ActOutput:
        """Sample (or take the mean action) for ``[N, obs_dim]`` observations.

        The values are left out (``None``): ``collect_rollout`` runs the critic once over the
        whole rollout, and evaluation and video need only the actions.
        """
        mean = _run_mlp(self._actor_linears, self._features(observations))  # (N, A)
        if deterministic:
            return ActOutput(mean, gaussian_log_prob(mean, mean, self.log_std), None, state)
        noise = torch.randn_like(mean)
        actions = mean + noise * self.log_std.exp()
        # the standardised action is the noise itself: log N(a; mean, std) from it directly
        # (five ops instead of gaussian_log_prob's nine; equal to float32 rounding)
        logprobs = (-0.5 * noise.pow(2) - self.log_std - _HALF_LOG_2PI).sum(-1)
        return ActOutput(actions, logprobs, None, state)

    def evaluate(
        self,
        observations: torch.Tensor,
        actions: torch.Tensor,
        extras: dict[str, torch.Tensor] | None = None,
    ) -> EvalOutput:
        """Log-probs, entropies and values of ``[B, T, ...]`` steps, each ``[B, T]``."""
        features = self._features(observations)
        mean = _run_mlp(self._actor_linears, features)  # (B, T, A)
        entropy = (0.5 + _HALF_LOG_2PI + self.log_std).sum().expand(mean.shape[:-1])
        return EvalOutput(
            logprobs=gaussian_log_prob(actions, mean, self.log_std),
            entropy=entropy,
            values=_run_mlp(self._critic_linears, features).squeeze(-1),
        )

    def value(self, observations: torch.Tensor, state: Any = None) -> torch.Tensor:
        return _run_mlp(self._critic_linears, self._features(observations)).squeeze(-1)
