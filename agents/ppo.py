"""ppo_update: epochs x minibatches over a RolloutBatch, for any ActorCritic."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import torch

from agents.flat import FlatParameter, step_optimizer
from agents.losses import PPOLossTerms, explained_variance, masked_whiten, ppo_losses
from agents.policy import ActorCritic, ClosedFormPPO
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
    loss_backend: Literal["auto", "autograd", "closed_form"] = "auto"
    """how a minibatch's gradient is computed: 'autograd' (evaluate, ppo_losses, backward),
    'closed_form' (the policy's own formula, :class:`agents.policy.ClosedFormPPO`; an error
    where it cannot apply), 'auto' (closed form where it applies, said once)"""

    def __post_init__(self) -> None:
        if self.update_epochs < 1 or self.num_minibatches < 1:
            raise ValueError("update_epochs and num_minibatches must be >= 1")
        if not 0.0 < self.clip_coef < 1.0:
            raise ValueError(f"clip_coef must be in (0, 1), got {self.clip_coef}")
        if not (0.0 <= self.gamma <= 1.0 and 0.0 <= self.gae_lambda <= 1.0):
            raise ValueError("gamma and gae_lambda must be in [0, 1]")
        if self.loss_backend not in ("auto", "autograd", "closed_form"):
            raise ValueError(
                f"loss_backend must be auto, autograd or closed_form, not {self.loss_backend!r}"
            )


class Stepper(Protocol):
    """How the loss terms turn into a parameter update (plain torch, or DeepSpeed engines)."""

    def step(self, terms: PPOLossTerms, config: PPOConfig) -> float:
        """Backward, clip, step, zero the gradients; return the pre-clip gradient norm."""
        ...


class TorchStepper:
    """One optimiser over all parameters and the shared loss ``pg - c_e H + c_v L_V``.

    An optimiser over an :class:`agents.flat.FlatParameter` has its gradient buffer zeroed
    in place (autograd writes into views of it); any other has its gradients set to None.
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.params = [p for group in optimizer.param_groups for p in group["params"]]

    def steps_exactly(self, module: torch.nn.Module) -> bool:
        """Whether the optimiser's parameters are exactly ``module``'s trainable ones, as
        themselves or as one :class:`FlatParameter` whose gradient buffer theirs view."""
        own = [p for p in module.parameters() if p.requires_grad]
        if len(self.params) == 1 and isinstance(self.params[0], FlatParameter):
            flat = self.params[0]
            buffer = flat.grad.untyped_storage().data_ptr() if flat.grad is not None else None
            return sum(p.numel() for p in own) == flat.numel() and all(
                p.grad is not None and p.grad.untyped_storage().data_ptr() == buffer for p in own
            )
        return {id(p) for p in self.params} == {id(p) for p in own} and len(own) == len(self.params)

    def step(self, terms: PPOLossTerms, config: PPOConfig) -> float:
        for param in self.params:
            if isinstance(param, FlatParameter):
                param.zero_grad()
            else:
                param.grad = None
        terms.total(config.vf_coef, config.ent_coef).backward()
        return self.apply(config)

    def apply(self, config: PPOConfig) -> float:
        """Clip the gradients already in ``.grad`` and step; return the pre-clip norm."""
        max_norm = config.max_grad_norm if config.max_grad_norm is not None else float("inf")
        if len(self.params) == 1 and isinstance(self.params[0], FlatParameter):
            grad_norm = self.params[0].clip_grad_norm_(max_norm)
        else:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.params, max_norm)
        step_optimizer(self.optimizer)
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

    ``config.loss_backend`` picks how each minibatch's gradient is computed (see
    :func:`choose_loss_backend`): a :class:`~agents.policy.ClosedFormPPO` policy
    (:class:`~agents.gaussian.GaussianActorCritic`) computes its losses and their gradient in
    closed form instead of through ``evaluate``, :func:`~agents.losses.ppo_losses` and
    autograd; the two agree within float rounding (tests/agents/test_gaussian_grad.py).

    Returns:
        Metrics averaged over the minibatches run: ``loss/policy``, ``loss/value``,
        ``loss/entropy``, ``policy/approx_kl``, ``policy/clipfrac``,
        ``policy/explained_variance``, ``train/grad_norm``, ``train/epochs`` (fewer than
        ``update_epochs`` when ``target_kl`` stopped it) and ``train/minibatches``.
    """
    if batch.advantages is None or batch.returns is None:
        raise ValueError("batch has no advantages/returns: run compute_gae first")
    stepper = TorchStepper(optimizer) if isinstance(optimizer, torch.optim.Optimizer) else optimizer
    closed_form = choose_loss_backend(policy, stepper, config.loss_backend)
    source = _Minibatches.of(batch, config.minibatch_over)
    # exactly num_minibatches per epoch (fewer only when there are fewer rows); when the
    # rows do not divide, the remainder of each shuffle sits the epoch out
    num_minibatches = min(config.num_minibatches, source.size)
    minibatch_size = max(1, source.size // config.num_minibatches)

    sums = torch.zeros(len(_LOSS_METRICS))  # autograd's minibatches: tensors, no sync each
    closed_sums = [0.0] * len(_LOSS_METRICS)  # the closed form's: floats already
    grad_norms = 0.0
    minibatches = epochs = 0
    stop = False
    for _ in range(config.update_epochs):
        # one gather per field and epoch; the minibatches are then slices (views) of it
        shuffled = source.take(torch.randperm(source.size, generator=generator))
        for start in range(0, num_minibatches * minibatch_size, minibatch_size):
            mb = _rows(shuffled, slice(start, start + minibatch_size))
            advantages = mb["advantages"]
            if config.norm_adv:
                advantages = masked_whiten(advantages, mb["mask"])
            closed = closed_form and closed_form(
                mb, advantages, config.clip_coef, config.vf_coef, config.ent_coef,
                config.value_clip_coef,
            )  # fmt: skip
            if closed_form is not None and not closed and config.loss_backend == "closed_form":
                raise ValueError(
                    "ppo.loss_backend=closed_form: the policy's closed form does not cover "
                    "this minibatch (masks, a clipped value loss or float64); use auto"
                )
            if closed:  # the losses as floats, their gradient already in .grad
                terms = closed
            else:
                new = policy.evaluate(mb["observations"], mb["actions"], mb["extras"])
                terms = ppo_losses(
                    new.logprobs,
                    mb["logprobs"],
                    advantages,
                    new.values,
                    mb["values"],
                    mb["returns"],
                    new.entropy,
                    mb["mask"],
                    config.clip_coef,
                    config.value_clip_coef,
                )
                # one tensor op per minibatch instead of five .item() calls
                row = torch.stack(
                    [getattr(terms, name).detach() for name in _LOSS_METRICS.values()]
                )
            if config.target_kl is not None and terms.approx_kl > 1.5 * config.target_kl:
                stop = True
                break
            grad_norms += stepper.apply(config) if closed else stepper.step(terms, config)
            if closed:
                closed_sums = [
                    total + getattr(closed, name)
                    for total, name in zip(closed_sums, _LOSS_METRICS.values(), strict=True)
                ]
            else:
                sums += row
            minibatches += 1
        if stop:
            break
        epochs += 1

    metrics: dict[str, float] = {}
    if minibatches:
        summed = [a + b for a, b in zip(sums.tolist(), closed_sums, strict=True)]
        totals = dict(zip(_LOSS_METRICS, summed, strict=True))
        totals["train/grad_norm"] = grad_norms
        metrics = {key: total / minibatches for key, total in totals.items()}
    metrics["policy/explained_variance"] = explained_variance(
        batch.values, batch.returns, batch.mask
    )
    metrics["train/epochs"] = float(epochs)
    metrics["train/minibatches"] = float(minibatches)
    return metrics


_ANNOUNCED: set[tuple[str, str]] = set()


def choose_loss_backend(
    policy: ActorCritic, stepper: Stepper, backend: str
) -> Callable[..., Any] | None:
    """The policy's closed-form loss-and-gradient method, or None for autograd.

    The closed form applies to a :class:`~agents.policy.ClosedFormPPO` policy whose optimiser
    steps exactly its parameters (it writes their ``.grad``). ``'auto'`` says once per
    process and policy type which backend runs.

    Raises:
        ValueError: ``'closed_form'`` where it cannot apply.
    """
    if backend == "autograd":
        return None
    applies = (
        isinstance(policy, ClosedFormPPO)
        and isinstance(stepper, TorchStepper)
        and stepper.steps_exactly(policy)
    )
    if backend == "closed_form" and not applies:
        raise ValueError(
            f"ppo.loss_backend=closed_form: {type(policy).__name__} has no closed-form PPO "
            "gradient, or its optimiser does not step exactly its parameters; use auto or "
            "autograd"
        )
    choice = "closed_form" if applies else "autograd"
    if backend == "auto" and (type(policy).__name__, choice) not in _ANNOUNCED:
        _ANNOUNCED.add((type(policy).__name__, choice))
        print(f"ppo.loss_backend=auto: {choice} for {type(policy).__name__}", file=sys.stderr)
    return policy.ppo_loss_and_grad if applies else None


# metric key -> PPOLossTerms field, summed over minibatches
_LOSS_METRICS = {
    "loss/policy": "policy_loss",
    "loss/value": "value_loss",
    "loss/entropy": "entropy",
    "policy/approx_kl": "approx_kl",
    "policy/clipfrac": "clipfrac",
}


@dataclass
class _Minibatches:
    """The tensors the update samples minibatches from, and nothing else.

    ``'steps'``: the real steps of the rollout as ``[S, 1]`` rows, with no mask: a padding or
    autoreset step (mask 0) contributes nothing to any masked mean, so it is dropped once
    here instead of being carried through every minibatch's losses and backward (a minibatch
    then holds ``S // num_minibatches`` real steps). ``'rows'``: whole ``[B, T]`` rows with
    their masks, for text.
    """

    fields: dict[str, Any]
    size: int

    @classmethod
    def of(cls, batch: RolloutBatch, over: str) -> _Minibatches:
        if over == "steps":
            batch = batch.flatten()
            batch = batch.rows(torch.nonzero(batch.mask[:, 0] > 0).squeeze(1))
        fields = {
            "observations": batch.observations,
            "actions": batch.actions,
            "logprobs": batch.logprobs,
            "values": batch.values,
            "returns": batch.returns,
            "advantages": batch.advantages,
            "extras": batch.extras,
            "mask": batch.mask if over == "rows" else None,
        }
        return cls(fields, batch.shape[0])

    def take(self, index: torch.Tensor) -> dict[str, Any]:
        """The rows ``index`` of every field (dicts of tensors indexed entry by entry)."""
        return _rows(self.fields, index)


def _rows(fields: Any, index: torch.Tensor | slice) -> Any:
    """``value[index]`` of every tensor in ``fields`` (nested dicts kept; None stays)."""
    if isinstance(fields, dict):
        return {name: _rows(value, index) for name, value in fields.items()}
    if fields is None:
        return None
    if isinstance(index, slice):
        return fields[index]
    # index_select: faster on the CPU than fields[index]'s general indexing kernel
    return fields.index_select(0, index.to(fields.device))
