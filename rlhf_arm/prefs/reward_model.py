"""The trajectory reward model: an ensemble of MLPs r(o, a) per step, summed over a segment.

Trained with the Bradley-Terry loss of :mod:`agents.preference`, the same loss that trains the
text reward model: P(left preferred) = sigmoid(R(left) - R(right)) with R a segment's summed
per-step reward (Christiano et al. 2017, section 2.2.3). The ensemble's disagreement picks the
pairs worth asking about (section 2.2.4), and its mean, standardised, is the reward PPO sees.

For the env, :func:`export_numpy` turns the ensemble into a :class:`NumpyReward`: the same
function as plain numpy matrices (the K members side by side as one wide MLP with
block-diagonal hidden layers), picklable and torch-free, called once per env step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.preference import pairwise_loss, preference_metrics
from rlhf_arm.prefs.labels import Preferences


class TrajectoryRewardModel(nn.Module):
    """``K`` independent MLPs over the standardised ``[observation, action]`` of one step.

    Args:
        obs_dim: ``D``; action_dim: ``A``.
        hidden: hidden widths of each member.
        ensemble_size: ``K``.
        negative_slope: of the leaky ReLUs (Christiano et al. use 0.01).
        observation_indices: the observation entries the members read (all ``D`` if None).
            Callers still pass whole ``[..., D]`` observations; the model picks its entries.
            A reward that can only depend on what the labeller judges (on the arm: the
            fingertip relative to the target) cannot learn which targets are easy instead.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden: tuple[int, ...] = (64, 64),
        ensemble_size: int = 3,
        negative_slope: float = 0.01,
        observation_indices: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if ensemble_size < 1 or not hidden:
            raise ValueError("need ensemble_size >= 1 and at least one hidden layer")
        indices = list(range(obs_dim)) if observation_indices is None else list(observation_indices)
        bad = [i for i in indices if not 0 <= i < obs_dim]
        if not indices or bad or len(set(indices)) != len(indices):
            raise ValueError(
                f"observation_indices must be distinct entries of the {obs_dim}-dim "
                f"observation, at least one; got {observation_indices}"
            )
        self.obs_dim, self.action_dim, self.negative_slope = obs_dim, action_dim, negative_slope
        in_dim = len(indices) + action_dim
        self.members = nn.ModuleList(
            _mlp(in_dim, hidden, negative_slope) for _ in range(ensemble_size)
        )
        self.register_buffer("observation_indices", torch.tensor(indices, dtype=torch.long))
        self.register_buffer("input_mean", torch.zeros(in_dim))
        self.register_buffer("input_std", torch.ones(in_dim))

    @property
    def ensemble_size(self) -> int:
        return len(self.members)

    def set_input_normalization(self, observations: np.ndarray, actions: np.ndarray) -> None:
        """Standardise inputs with the mean and std of ``[..., D]`` and ``[..., A]`` samples."""
        observations = observations[..., self.observation_indices.numpy()]
        inputs = np.concatenate([observations, actions], -1).reshape(-1, self.input_mean.numel())
        self.input_mean.copy_(torch.as_tensor(inputs.mean(0)))
        self.input_std.copy_(torch.as_tensor(inputs.std(0) + 1e-6))

    def forward(
        self, observations: torch.Tensor, actions: torch.Tensor, member: int | None = None
    ) -> torch.Tensor:
        """Per-step rewards of every member, ``[..., D], [..., A] -> [K, ...]``.

        With ``member`` set, that member's only, ``[...]``.
        """
        observations = observations[..., self.observation_indices]
        inputs = torch.cat([observations, actions], -1).to(torch.float32)
        inputs = (inputs - self.input_mean) / self.input_std
        if member is not None:
            return self.members[member](inputs).squeeze(-1)
        return torch.stack([mlp(inputs).squeeze(-1) for mlp in self.members])

    def segment_returns(
        self, observations: torch.Tensor, actions: torch.Tensor, member: int | None = None
    ) -> torch.Tensor:
        """Summed rewards of segments ``[S, L, D], [S, L, A] -> [K, S]`` (``[S]`` for a member)."""
        return self(observations, actions, member).sum(-1)


def _mlp(in_dim: int, hidden: tuple[int, ...], negative_slope: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.LeakyReLU(negative_slope)]
        in_dim = width
    layers.append(nn.Linear(in_dim, 1))
    return nn.Sequential(*layers)


def soft_pairwise_loss(
    left_returns: torch.Tensor, right_returns: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Bradley-Terry cross-entropy with a target probability per pair (``pairwise_loss``).

    ``mean_i [t_i (-log sigmoid(a_i - b_i)) + (1 - t_i) (-log sigmoid(b_i - a_i))]``: ``t = 1``
    is ``pairwise_loss(a, b)``, ``t = 0`` is ``pairwise_loss(b, a)``, and ``t = 0.5`` (an
    "equal" label) pulls the two returns together.

    Args:
        left_returns, right_returns: ``[P]`` segment returns.
        target: ``[P]`` probability that the left segment is preferred.
    """
    return pairwise_loss(left_returns, right_returns, target)


@torch.no_grad()
def preference_variance(
    model: TrajectoryRewardModel,
    observations: torch.Tensor,
    actions: torch.Tensor,
    left: np.ndarray,
    right: np.ndarray,
) -> np.ndarray:
    """Variance across the ensemble of P(left preferred) for each pair, ``[P]``.

    Args:
        observations, actions: the pool, ``[S, L, D]`` and ``[S, L, A]``.
        left, right: ``[P]`` rows of the pool.
    """
    returns = model.segment_returns(observations, actions)  # (K, S)
    probabilities = torch.sigmoid(returns[:, left] - returns[:, right])  # (K, P)
    return probabilities.var(0, unbiased=False).numpy()


class NumpyReward:
    """A picklable ``reward_fn(observation, action, info) -> float`` for the env, in numpy.

    ``r = f(concat(observation, action))`` with ``f`` a leaky-ReLU MLP given by its matrices
    (``x @ W + b`` per layer, float64); see :func:`export_numpy`.
    """

    def __init__(
        self, weights: list[np.ndarray], biases: list[np.ndarray], negative_slope: float
    ) -> None:
        self.weights = [np.ascontiguousarray(w, dtype=np.float64) for w in weights]
        self.biases = [np.asarray(b, dtype=np.float64) for b in biases]
        self.negative_slope = float(negative_slope)

    def batch(self, observations: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Rewards of ``[..., D]`` observations and ``[..., A]`` actions, ``[...]``."""
        hidden = np.concatenate([observations, actions], -1).astype(np.float64)
        for weight, bias in zip(self.weights[:-1], self.biases[:-1], strict=True):
            hidden = hidden @ weight + bias
            hidden = np.maximum(hidden, self.negative_slope * hidden)  # leaky ReLU, slope < 1
        return (hidden @ self.weights[-1] + self.biases[-1])[..., 0]

    def __call__(self, observation: np.ndarray, action: np.ndarray, info: Any = None) -> float:
        return float(self.batch(observation, action))


@torch.no_grad()
def export_numpy(
    model: TrajectoryRewardModel, shift: float = 0.0, scale: float = 1.0
) -> NumpyReward:
    """The ensemble mean ``(mean_k r_k(o, a) - shift) / scale`` as a :class:`NumpyReward`.

    The input standardisation is folded into the first layer and ``shift``/``scale`` into the
    last, so a call is one small matrix product per layer whatever ``K`` is. Observation
    entries the model does not read get zero rows in the first layer.
    """
    members = [[m for m in mlp if isinstance(m, nn.Linear)] for mlp in model.members]
    k = len(members)
    weights, biases = [], []
    for depth in range(len(members[0])):
        layer_weights = [mlp[depth].weight.double().numpy().T for mlp in members]  # (in, out)
        layer_biases = [mlp[depth].bias.double().numpy() for mlp in members]
        if depth == 0:
            weights.append(np.concatenate(layer_weights, 1))  # every member reads the input
            biases.append(np.concatenate(layer_biases))
        elif depth < len(members[0]) - 1:
            weights.append(_block_diagonal(layer_weights))
            biases.append(np.concatenate(layer_biases))
        else:  # (K*h, 1): the mean over members
            weights.append(np.concatenate(layer_weights, 0) / k)
            biases.append(np.mean(layer_biases, 0))
    mean, std = model.input_mean.double().numpy(), model.input_std.double().numpy()
    biases[0] = biases[0] - (mean / std) @ weights[0]
    weights[0] = weights[0] / std[:, None]
    first = np.zeros((model.obs_dim + model.action_dim, weights[0].shape[1]))
    first[model.observation_indices.numpy()] = weights[0][: -model.action_dim]
    first[model.obs_dim :] = weights[0][-model.action_dim :]
    weights[0] = first
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be finite and > 0, got {scale}")
    weights[-1], biases[-1] = weights[-1] / scale, (biases[-1] - shift) / scale
    return NumpyReward(weights, biases, model.negative_slope)


def _block_diagonal(blocks: list[np.ndarray]) -> np.ndarray:
    rows, cols = sum(b.shape[0] for b in blocks), sum(b.shape[1] for b in blocks)
    out = np.zeros((rows, cols))
    r = c = 0
    for block in blocks:
        out[r : r + block.shape[0], c : c + block.shape[1]] = block
        r, c = r + block.shape[0], c + block.shape[1]
    return out


def fit_reward_model(
    model: TrajectoryRewardModel,
    optimizer: torch.optim.Optimizer,
    observations: torch.Tensor,
    actions: torch.Tensor,
    preferences: Preferences,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    bootstrap: bool = True,
) -> dict[str, float]:
    """Minibatch passes of :func:`soft_pairwise_loss` over the labelled pairs, every member.

    Each member trains on its own bootstrap resample of the pairs (drawn anew per call),
    so the ensemble's disagreement reflects how little data there is (Christiano et al.
    2017, section 2.2.3).

    Args:
        observations, actions: the pool, ``[S, L, D]`` and ``[S, L, A]``.
        preferences: ``P`` labelled pairs of pool rows.
        epochs: passes over the ``P`` pairs.

    Returns:
        ``prefs/rm_loss``: the mean training loss of the last pass.
    """
    n = len(preferences)
    if n == 0:
        raise ValueError("no labelled pairs to train the reward model on")
    left, right = torch.as_tensor(preferences.left), torch.as_tensor(preferences.right)
    target = torch.as_tensor(preferences.target, dtype=torch.float32)
    samples = [
        torch.randint(n, (n,), generator=generator) if bootstrap else torch.arange(n)
        for _ in range(model.ensemble_size)
    ]
    model.train()
    for _ in range(epochs):
        orders = [s[torch.randperm(n, generator=generator)] for s in samples]
        losses = []
        for start in range(0, n, batch_size):
            loss = observations.new_zeros(())
            for member, order in enumerate(orders):
                mb = order[start : start + batch_size]
                mb_left = model.segment_returns(observations[left[mb]], actions[left[mb]], member)
                mb_right = model.segment_returns(
                    observations[right[mb]], actions[right[mb]], member
                )
                loss = loss + soft_pairwise_loss(mb_left, mb_right, target[mb])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item() / model.ensemble_size)
    model.eval()
    return {"prefs/rm_loss": float(np.mean(losses))}


@torch.no_grad()
def evaluate_reward_model(
    model: TrajectoryRewardModel,
    observations: torch.Tensor,
    actions: torch.Tensor,
    preferences: Preferences,
) -> dict[str, float]:
    """The ensemble mean's :func:`~agents.preference.preference_metrics` on labelled pairs.

    Pairs labelled "equal" count in the loss only (no side is chosen). Keys are the metrics'
    own (``accuracy``, ...) and ``loss``; empty if there are no pairs.
    """
    if len(preferences) == 0:
        return {}
    returns = model.segment_returns(observations, actions).mean(0)  # (S,)
    left, right = returns[preferences.left], returns[preferences.right]
    target = torch.as_tensor(preferences.target, dtype=torch.float32)
    metrics = {"loss": float(soft_pairwise_loss(left, right, target))}
    strict = target != 0.5
    if strict.any():
        prefers_left = target[strict] == 1.0
        chosen = torch.where(prefers_left, left[strict], right[strict])
        rejected = torch.where(prefers_left, right[strict], left[strict])
        metrics.update(preference_metrics(chosen, rejected))
    return metrics
