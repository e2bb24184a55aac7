"""GaussianActorCritic: a diagonal-Gaussian MLP policy and an MLP critic for Box actions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.diag_gaussian import entropy as diag_entropy
from agents.diag_gaussian import log_prob_from_standardised
from agents.gaussian_grad import LossValues, loss_and_grad
from agents.normalize import RunningNormalizer
from agents.policy import ActOutput, EvalOutput


def gaussian_log_prob(
    actions: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor
) -> torch.Tensor:
    """Log-density of a diagonal Gaussian summed over the last dim, ``[..., A] -> [...]``.

    Written out rather than through ``torch.distributions.Normal``, whose argument checks and
    object construction cost more than a small MLP's forward pass on every env step.
    """
    z = (actions - mean) * torch.exp(-log_std)
    return log_prob_from_standardised(z.pow(2).sum(-1), log_std.sum(), log_std.shape[-1])


def _numpy_tanh(x: torch.Tensor) -> torch.Tensor:
    array = x.detach().numpy()
    return torch.from_numpy(np.tanh(array, out=np.empty_like(array)))  # out=: 0-d stays array


class _NumpyTanh(torch.autograd.Function):
    """``tanh`` computed by numpy, differentiated by torch's own ``tanh_backward``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        y = _numpy_tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)


_NUMPY_TANH_MIN_SIZE = 2048
"""below this many elements (an 8-arm ``act``: 512) the trip through numpy costs more than
torch's kernel saves"""


def tanh(x: torch.Tensor) -> torch.Tensor:
    """``torch.tanh``, through numpy for float CPU tensors.

    torch's CPU tanh kernel is the slowest piece of a 64-wide MLP here: about 45 us for a
    ``(256, 64)`` float32 minibatch activation against about 3.5 us for numpy's (AVX-512
    builds of both, one thread; ``benchmarks/arm_step_cost.py`` prints both), and a policy
    update runs four of them per minibatch. Equal to ``torch.tanh`` within float rounding
    (tests/agents/test_fast_paths.py); small tensors, other devices and other dtypes use
    ``torch.tanh``.
    """
    if (
        x.device.type != "cpu"
        or x.dtype not in (torch.float32, torch.float64)
        or x.numel() < _NUMPY_TANH_MIN_SIZE
    ):
        return torch.tanh(x)
    if torch.is_grad_enabled() and x.requires_grad:
        return _NumpyTanh.apply(x)
    return _numpy_tanh(x)


def _numpy_act_applies(observations: torch.Tensor) -> bool:
    """Whether ``act`` may run in numpy: no autograd, ``(N, D)`` float32 CPU observations."""
    return (
        not torch.is_grad_enabled()
        and observations.dtype == torch.float32
        and observations.device.type == "cpu"
        and observations.dim() == 2
    )


_sum = np.add.reduce


def _orthogonal(out_dim: int, in_dim: int, gain: float) -> torch.Tensor:
    """An ``[out, in]`` orthogonal matrix times ``gain`` (Huang et al. 2022, PPO detail #2)."""
    return nn.init.orthogonal_(torch.empty(out_dim, in_dim), gain)


class GaussianActorCritic(nn.Module):
    """Separate actor and critic MLPs; a state-independent log-std; running obs normalisation.

    The actor's last layer starts with gain 0.01 so initial actions are near zero mean, the
    critic's with gain 1, the hidden layers with sqrt(2), all orthogonal with zero biases
    (CleanRL's ``ppo_continuous_action.py``).

    The two MLPs share their hidden widths, so their hidden layers are kept stacked, one
    ``[2, in, out]`` weight per layer (index 0 the actor's, 1 the critic's), and a minibatch
    runs both networks with one batched matmul per layer: the same maths as two MLPs, with
    half the torch calls and autograd nodes, which is what a 64-wide MLP's update costs on a
    CPU (``benchmarks/arm_step_cost.py``). ``act`` and ``value`` run their own half alone.

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
        self.hidden = tuple(hidden)
        widths = [obs_dim, *self.hidden]
        # hidden layer i: weights (2, in, out) for x @ W, biases (2, 1, out)
        self.hidden_weights = nn.ParameterList(
            nn.Parameter(torch.stack([_orthogonal(out, inp, math.sqrt(2)).T for _ in range(2)]))
            for inp, out in zip(widths[:-1], widths[1:], strict=True)
        )
        self.hidden_biases = nn.ParameterList(
            nn.Parameter(torch.zeros(2, 1, out)) for out in widths[1:]
        )
        self.actor_head = nn.Linear(widths[-1], action_dim)
        self.critic_head = nn.Linear(widths[-1], 1)
        with torch.no_grad():
            for head, gain in ((self.actor_head, 0.01), (self.critic_head, 1.0)):
                head.weight.copy_(_orthogonal(*head.weight.shape, gain))
                head.bias.zero_()
        self.log_std = nn.Parameter(torch.full((action_dim,), float(init_log_std)))
        self.normalizer = RunningNormalizer((obs_dim,)) if normalize_observations else None
        self._register_load_state_dict_pre_hook(_stack_separate_mlps)
        self._numpy_cache: tuple | None = None  # see _numpy_views
        # load_state_dict(assign=True) puts new Parameter objects in place of the old ones
        self.register_load_state_dict_post_hook(lambda module, _keys: module._forget_views())

    def _half(self, features: torch.Tensor, which: int) -> torch.Tensor:
        """The actor's (``which=0``) or critic's (1) hidden layers on ``(N, D)`` features."""
        x = features
        for weight, bias in zip(self.hidden_weights, self.hidden_biases, strict=True):
            x = tanh(torch.addmm(bias[which], x, weight[which]))
        return x

    def _both(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both networks' last hidden layers on ``(N, D)`` features, each ``(N, H)``."""
        x = features.unsqueeze(0).expand(2, *features.shape)  # (2, N, D), no copy
        for weight, bias in zip(self.hidden_weights, self.hidden_biases, strict=True):
            x = tanh(torch.baddbmm(bias, x, weight))  # (2, N, H)
        return x[0], x[1]

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

        Without autograd, on float32 CPU observations and parameters, the forward pass runs
        in numpy on the parameters' own memory (:meth:`_act_numpy`): about a third of the
        time of the torch ops it replaces, whose dispatch costs more than the arithmetic of
        an 8-arm batch (``benchmarks/arm_step_cost.py``). The noise comes from torch's
        generator either way, so a seeded run samples the same actions.
        """
        views = self._numpy_views() if _numpy_act_applies(observations) else None
        if views is not None:
            actions, logprobs = self._act_numpy(observations.numpy(), views, deterministic)
            return ActOutput(torch.from_numpy(actions), torch.from_numpy(logprobs), None, state)
        hidden = self._half(self._features(observations), 0)
        mean = F.linear(hidden, self.actor_head.weight, self.actor_head.bias)  # (N, A)
        if deterministic:
            return ActOutput(mean, gaussian_log_prob(mean, mean, self.log_std), None, state)
        noise = torch.randn_like(mean)
        actions = mean + noise * self.log_std.exp()
        # the standardised action is the noise itself: log N(a; mean, std) from it directly
        # (five ops instead of gaussian_log_prob's nine; equal to float32 rounding)
        logprobs = log_prob_from_standardised(
            noise.pow(2).sum(-1), self.log_std.sum(), self.action_dim
        )
        return ActOutput(actions, logprobs, None, state)

    def _act_numpy(
        self, observations: np.ndarray, views: list[np.ndarray], deterministic: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """``act``'s maths in numpy: ``(actions (N, A), logprobs (N,))``, float32."""
        layers = len(self.hidden)
        x = self._normalise_numpy(observations, views)
        for weight, bias in zip(views[:layers], views[layers : 2 * layers], strict=True):
            x = x @ weight[0]  # the actor's half of each stacked layer
            x += bias[0]
            np.tanh(x, out=x)
        actor_weight, actor_bias, _, _, log_std = views[2 * layers : 2 * layers + 5]
        mean = x @ actor_weight.T
        mean += actor_bias
        log_std_sum = _sum(log_std)  # a float32 scalar, as torch's sum
        if deterministic:
            squared = np.zeros(len(mean), np.float32)
            return mean, log_prob_from_standardised(squared, log_std_sum, self.action_dim)
        # torch's generator, drawn as randn_like(mean) draws: seeded runs repeat either way
        noise = torch.randn(mean.shape, dtype=torch.float32).numpy()
        actions = noise * np.exp(log_std)
        actions += mean
        squared = _sum(noise * noise, 1)
        return actions, log_prob_from_standardised(squared, log_std_sum, self.action_dim)

    def _normalise_numpy(self, observations: np.ndarray, views: list[np.ndarray]) -> np.ndarray:
        """``RunningNormalizer.forward`` in numpy on ``(N, D)`` float32 observations."""
        if self.normalizer is None:
            return observations
        shift, scale = views[-2:]
        x = observations - shift
        x /= scale
        clip = self.normalizer.clip
        return np.minimum(np.maximum(x, -clip, out=x), clip, out=x)  # np.clip's Python costs more

    def _numpy_views(self) -> list[np.ndarray] | None:
        """Numpy views of the parameters (in :meth:`_closed_form_parameters`' order), then the
        normaliser's float32 shift and scale; None unless all are float32 on the CPU.

        Made once and kept: a view sees every in-place change (optimiser steps, normaliser
        updates, ``load_state_dict``). They are remade when a tensor's storage moves, which
        the tensors' addresses show (``flatten_parameters``, ``.to``), or when the module's
        parameters are replaced (``.to`` and ``load_state_dict(assign=True)``).
        """
        if self._numpy_cache is None:
            sources = tuple(self._closed_form_parameters())
            if self.normalizer is not None:
                sources += (self.normalizer._mean32, self.normalizer._std32)
            self._numpy_cache = (sources, None, None)
        sources, addresses, views = self._numpy_cache
        now = [t.data_ptr() for t in sources]
        if now != addresses:
            numpy_ok = all(t.dtype == torch.float32 and t.device.type == "cpu" for t in sources)
            views = [t.detach().numpy() for t in sources] if numpy_ok else None
            self._numpy_cache = (sources, now, views)
        return views

    def _forget_views(self) -> None:
        self._numpy_cache = None

    def _apply(self, fn: Any, recurse: bool = True) -> GaussianActorCritic:
        self._forget_views()  # .to, .double, .cuda: new storage, maybe new Parameter objects
        return super()._apply(fn, recurse)

    def evaluate(
        self,
        observations: torch.Tensor,
        actions: torch.Tensor,
        extras: dict[str, torch.Tensor] | None = None,
    ) -> EvalOutput:
        """Log-probs, entropies and values of ``[B, T, ...]`` steps, each ``[B, T]``."""
        lead = observations.shape[:-1]  # (B, T)
        features = self._features(observations).reshape(-1, self.obs_dim)  # (B * T, D)
        actor_hidden, critic_hidden = self._both(features)
        mean = F.linear(actor_hidden, self.actor_head.weight, self.actor_head.bias)
        mean = mean.reshape(*lead, self.action_dim)  # (B, T, A)
        values = F.linear(critic_hidden, self.critic_head.weight, self.critic_head.bias)
        entropy = diag_entropy(self.log_std.sum(), self.action_dim).expand(lead)
        return EvalOutput(
            logprobs=gaussian_log_prob(actions, mean, self.log_std),
            entropy=entropy,
            values=values.reshape(lead),
        )

    def ppo_loss_and_grad(
        self,
        minibatch: dict[str, Any],
        advantages: torch.Tensor,
        clip_coef: float,
        vf_coef: float,
        ent_coef: float,
        value_clip_coef: float | None = None,
    ) -> LossValues | None:
        """PPO's losses on a minibatch and their gradient in closed form, without autograd.

        The same losses as :func:`agents.losses.ppo_losses` over :meth:`evaluate` (with the
        shared loss ``policy - ent_coef * entropy + vf_coef * value``), computed by
        :mod:`agents.gaussian_grad`; the gradient *replaces* each parameter's ``.grad`` (or
        is written into the views of a flat gradient buffer). ``ppo_update`` calls this
        instead of autograd when it can; equal to autograd within float rounding.

        Args:
            minibatch: ``ppo_update``'s fields (``observations``, ``actions``, ``logprobs``,
                ``returns``, ``mask``), each ``[B, T, ...]``.
            advantages: ``[B, T]``, as the surrogate uses them (whitened if wanted).

        Returns:
            The loss terms, or None, with no gradient written, for what the closed form does
            not cover: a mask, a clipped value loss, tensors that are not float32 on the CPU,
            or a frozen parameter.
        """
        observations, actions = minibatch["observations"], minibatch["actions"]
        tensors = (observations, actions, minibatch["logprobs"], minibatch["returns"], advantages)
        if (
            minibatch.get("mask") is not None
            or value_clip_coef is not None
            or not all(isinstance(t, torch.Tensor) for t in tensors)
            or any(t.dtype != torch.float32 or t.device.type != "cpu" for t in tensors)
        ):
            return None
        views = self._numpy_views()
        count = 2 * len(self.hidden) + 5  # the parameters, ahead of the normaliser's views
        params = self._numpy_cache[0][:count]
        if views is None or not all(p.requires_grad for p in params):
            return None
        features = self._normalise_numpy(observations.reshape(-1, self.obs_dim).numpy(), views)
        arrays = views[:count]
        layers = len(self.hidden)
        losses, grads = loss_and_grad(
            features,
            actions.reshape(-1, self.action_dim).numpy(),
            minibatch["logprobs"].reshape(-1).numpy(),
            advantages.reshape(-1).numpy(),
            minibatch["returns"].reshape(-1).numpy(),
            arrays[:layers],
            arrays[layers : 2 * layers],
            *arrays[2 * layers :],
            clip_coef=clip_coef,
            vf_coef=vf_coef,
            ent_coef=ent_coef,
        )
        for param, grad in zip(params, grads, strict=True):
            if param.grad is None:
                param.grad = torch.from_numpy(grad)
            else:
                np.copyto(param.grad.numpy(), grad)
        return losses

    def _closed_form_parameters(self) -> list[nn.Parameter]:
        """The parameters in :func:`agents.gaussian_grad.loss_and_grad`'s order."""
        return [
            *self.hidden_weights,
            *self.hidden_biases,
            self.actor_head.weight,
            self.actor_head.bias,
            self.critic_head.weight,
            self.critic_head.bias,
            self.log_std,
        ]

    def value(self, observations: torch.Tensor, state: Any = None) -> torch.Tensor:
        """V of ``[..., obs_dim]`` observations, ``[...]``."""
        lead = observations.shape[:-1]
        hidden = self._half(self._features(observations).reshape(-1, self.obs_dim), 1)
        values = F.linear(hidden, self.critic_head.weight, self.critic_head.bias)
        return values.reshape(lead)


_OLD_NETS = ("actor_mean", "critic")  # the separate layout's two Sequentials, actor first


def _stack_separate_mlps(
    state_dict: dict[str, torch.Tensor], prefix: str, *args: Any, **kwargs: Any
) -> None:
    """Loads a checkpoint written before the hidden layers were stacked (rlhf-gym 0.1.0's
    ``actor_mean``/``critic`` ``nn.Sequential`` keys) into this layout, in place."""
    old = f"{prefix}actor_mean."
    if f"{old}0.weight" not in state_dict:
        return
    layers = sorted(
        {int(key[len(old) :].split(".")[0]) for key in state_dict if key.startswith(old)}
    )  # Linear indices 0, 2, 4, ... (the Tanh modules between them hold nothing)
    *hidden, head = layers
    for i, index in enumerate(hidden):
        for name, target in (("weight", "hidden_weights"), ("bias", "hidden_biases")):
            pair = [state_dict.pop(f"{prefix}{net}.{index}.{name}") for net in _OLD_NETS]
            if name == "weight":
                stacked = torch.stack([w.T for w in pair])  # (2, in, out)
            else:
                stacked = torch.stack(pair).unsqueeze(1)  # (2, 1, out)
            state_dict[f"{prefix}{target}.{i}"] = stacked
    for net, new in zip(_OLD_NETS, ("actor_head", "critic_head"), strict=True):
        for name in ("weight", "bias"):
            state_dict[f"{prefix}{new}.{name}"] = state_dict.pop(f"{prefix}{net}.{head}.{name}")
