"""The PPO loss of a :class:`~agents.gaussian.GaussianActorCritic` and its gradient, in closed form.

A PPO minibatch of the arm's 64-wide MLPs is a few hundred microseconds of arithmetic wrapped
in about a millisecond of autograd and torch dispatch: every op of the forward pass records a
node, and the backward pass walks them one kernel call at a time
(``benchmarks/arm_step_cost.py``). The network is small and fixed (tanh hidden layers, linear
heads, a diagonal Gaussian with a state-independent log-std), so its gradient can be written
out once: this module computes the same losses as :func:`agents.losses.ppo_losses` over
:meth:`GaussianActorCritic.evaluate` and their gradient by hand-written backpropagation, in
numpy on the tensors' own memory; :meth:`GaussianActorCritic.ppo_loss_and_grad` writes the
gradient into the parameters' ``.grad``, and ``ppo_update`` uses that for the cases it
covers (float32 CPU tensors, unmasked minibatches, an unclipped value loss) and autograd for
everything else; tests/agents/test_gaussian_grad.py checks both against each other.

The gradient of ``max(-A r, -A clip(r, 1 - e, 1 + e))`` follows torch's conventions exactly:
where the two sides tie (the ratio inside the clip range) its derivative in ``r`` is
``-A``, and where the clipped side is larger it is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.diag_gaussian import entropy as diag_entropy
from agents.diag_gaussian import log_prob_from_standardised

_sum = np.add.reduce


@dataclass
class LossValues:
    """The loss terms of one minibatch as floats (the metrics ``ppo_update`` averages)."""

    policy_loss: float
    value_loss: float
    entropy: float
    approx_kl: float
    clipfrac: float


def loss_and_grad(
    features: np.ndarray,
    actions: np.ndarray,
    old_logprobs: np.ndarray,
    advantages: np.ndarray,
    returns: np.ndarray,
    hidden_weights: list[np.ndarray],
    hidden_biases: list[np.ndarray],
    actor_weight: np.ndarray,
    actor_bias: np.ndarray,
    critic_weight: np.ndarray,
    critic_bias: np.ndarray,
    log_std: np.ndarray,
    clip_coef: float,
    vf_coef: float,
    ent_coef: float,
) -> tuple[LossValues, list[np.ndarray]]:
    """PPO's loss ``policy - ent_coef * entropy + vf_coef * value`` and its gradient.

    Args:
        features: ``(n, D)`` normalised observations.
        actions: ``(n, A)`` actions taken; ``old_logprobs``, ``advantages`` (as the surrogate
            uses them, already whitened if wanted) and ``returns``: ``(n,)``.
        hidden_weights, hidden_biases: per hidden layer ``(2, in, out)`` and ``(2, 1, out)``,
            index 0 the actor's, 1 the critic's.
        actor_weight, actor_bias: ``(A, H)``, ``(A,)``; ``critic_weight``, ``critic_bias``:
            ``(1, H)``, ``(1,)``; ``log_std``: ``(A,)``.

    Returns:
        The loss terms and the gradients in the order ``hidden_weights``, ``hidden_biases``,
        actor weight, actor bias, critic weight, critic bias, log-std.
    """
    n = features.shape[0]
    # forward: both MLPs at once, (2, n, H) activations kept for the backward pass
    layer_inputs = []
    x: np.ndarray = features
    for weight, bias in zip(hidden_weights, hidden_biases, strict=True):
        layer_inputs.append(x)
        x = np.matmul(x, weight)
        x += bias
        np.tanh(x, out=x)
    if not hidden_weights:
        x = np.broadcast_to(features, (2, *features.shape))
    actor_hidden, critic_hidden = x[0], x[1]
    mean = actor_hidden @ actor_weight.T
    mean += actor_bias
    values = critic_hidden @ critic_weight[0]
    values += critic_bias[0]

    # (numpy's ufuncs and BLAS dots directly: ndarray.mean, .sum and np.clip add several
    # microseconds of Python each, as much as the arithmetic on 256 numbers)
    inv_std = np.exp(-log_std)
    z = (actions - mean) * inv_std  # (n, A) standardised actions
    log_std_sum = float(_sum(log_std))
    logprobs = log_prob_from_standardised(_sum(z * z, 1), log_std_sum, log_std.shape[0])
    logratio = logprobs - old_logprobs
    ratio = np.exp(logratio)
    neg_advantages = -advantages
    unclipped = neg_advantages * ratio
    clipped = neg_advantages * np.minimum(np.maximum(ratio, 1.0 - clip_coef), 1.0 + clip_coef)
    value_error = values - returns
    ratio_minus_one = ratio - 1.0
    losses = LossValues(
        policy_loss=float(_sum(np.maximum(unclipped, clipped))) / n,
        value_loss=0.5 * float(value_error @ value_error) / n,
        entropy=diag_entropy(log_std_sum, log_std.shape[0]),
        approx_kl=float(_sum(ratio_minus_one - logratio)) / n,
        clipfrac=float(np.count_nonzero(np.abs(ratio_minus_one) > clip_coef)) / n,
    )

    # backward
    grad_logprobs = np.where(unclipped >= clipped, neg_advantages, 0.0)
    grad_logprobs *= ratio * (1.0 / n)  # d loss / d logprob, (n,)
    scaled_z = z * grad_logprobs[:, None]
    grad_mean = scaled_z * inv_std  # (n, A)
    grad_log_std = _sum(scaled_z * z, 0) - _sum(grad_logprobs) - ent_coef
    grad_values = value_error * (vf_coef / n)  # (n,)

    grad_actor_weight = grad_mean.T @ actor_hidden
    grad_critic_weight = (grad_values @ critic_hidden)[None]
    grad_hidden = np.empty_like(x)  # (2, n, H)
    np.matmul(grad_mean, actor_weight, out=grad_hidden[0])
    np.multiply.outer(grad_values, critic_weight[0], out=grad_hidden[1])
    grad_weights, grad_biases = [], []
    for layer in reversed(range(len(hidden_weights))):
        activation = x if layer == len(hidden_weights) - 1 else layer_inputs[layer + 1]
        grad_pre = grad_hidden * (1.0 - activation * activation)  # through tanh
        inputs = layer_inputs[layer]
        grad_weights.append(np.matmul(inputs.swapaxes(-1, -2), grad_pre))
        grad_biases.append(_sum(grad_pre, 1, keepdims=True))
        if layer:
            grad_hidden = np.matmul(grad_pre, hidden_weights[layer].swapaxes(-1, -2))
    grads = [
        *reversed(grad_weights),
        *reversed(grad_biases),
        grad_actor_weight,
        _sum(grad_mean, 0),
        grad_critic_weight,
        _sum(grad_values, 0, keepdims=True),
        grad_log_std,
    ]
    return losses, grads
