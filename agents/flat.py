"""One buffer for all of a small module's parameters, one for their gradients.

``torch.optim``, ``clip_grad_norm_`` and ``zero_grad`` do their bookkeeping per parameter in
Python: grouping tensors, per-parameter state, one kernel call each. For a 64-wide MLP on a
CPU that bookkeeping costs more than the arithmetic, about a quarter of a PPO minibatch
(``benchmarks/arm_step_cost.py``). With every parameter a view of one buffer and every
gradient a view of another, the optimiser, the clipping and the zeroing each see one tensor,
while the module, its ``state_dict`` and autograd see the parameters they always had.
DeepSpeed's contiguous gradients and FSDP's ``FlatParameter`` do the same for large models.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

# the registries torch.optim.register_optimizer_step_{pre,post}_hook fill (torch is pinned)
from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks


class FlatParameter(nn.Parameter):
    """The one tensor an optimiser steps: a module's parameters laid end to end.

    Its ``grad`` is the buffer that autograd accumulates every parameter's gradient into, so
    it must be zeroed in place (:meth:`zero_grad`), never set to ``None``:
    :class:`agents.ppo.TorchStepper` does so.
    """

    def zero_grad(self) -> None:
        self.grad.zero_()

    @torch.no_grad()
    def clip_grad_norm_(self, max_norm: float) -> torch.Tensor:
        """``torch.nn.utils.clip_grad_norm_`` on the one gradient buffer (the same formula,
        without its per-tensor grouping); returns the norm before clipping.

        A float32 CPU buffer is clipped by numpy on its memory: one dot product and one
        scaling, where torch's three dispatched ops cost a small MLP's minibatch about
        40 us (``benchmarks/arm_step_cost.py``).
        """
        grad = self.grad
        if grad.dtype != torch.float32 or grad.device.type != "cpu":
            norm = torch.linalg.vector_norm(grad)
            grad.mul_(torch.clamp(max_norm / (norm + 1e-6), max=1.0))
            return norm
        values = grad.numpy()
        norm = math.sqrt(float(np.vdot(values, values)))
        values *= np.float32(min(max_norm / (norm + 1e-6), 1.0))
        return torch.tensor(norm, dtype=torch.float32)


def flatten_parameters(module: nn.Module) -> FlatParameter:
    """Moves ``module``'s trainable parameters into one buffer and returns it.

    Each parameter keeps its identity, shape and value but becomes a view of the buffer, and
    its ``grad`` a view of the buffer's ``grad``: a backward pass adds into those views in
    place, and an optimiser over ``[flat]`` updates the module. Build the optimiser after
    this call; moving the module (``.to``, ``.double``) afterwards would detach the views.

    Raises:
        ValueError: if the module has no trainable parameters, or they differ in dtype or
            device.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(module).__name__} has no trainable parameters to flatten")
    kinds = {(p.dtype, p.device) for p in params}
    if len(kinds) > 1:
        raise ValueError(f"parameters of several dtypes or devices cannot share a buffer: {kinds}")
    data = torch.cat([p.detach().reshape(-1) for p in params])
    grad = torch.zeros_like(data)
    offset = 0
    for p in params:
        size = p.numel()
        p.data = data[offset : offset + size].view_as(p)
        p.grad = grad[offset : offset + size].view_as(p)
        offset += size
    flat = FlatParameter(data)
    flat.grad = grad
    return flat


def step_optimizer(optimizer: torch.optim.Optimizer) -> None:
    """``optimizer.step()``; for torch's fused Adam over one CPU tensor, its kernel directly.

    ``Optimizer.step`` wraps each call in a profiler range, hook loops, a grad-mode switch and
    a grouping of the tensors by device and dtype. For the arm's one flat buffer of 12k
    numbers that is most of the step: 37 us against 14 for the kernel called directly
    (``benchmarks/arm_step_cost.py``). Once torch's own first step has made the state, this
    adds one to the step count and calls ``torch._fused_adam_`` with the arguments
    ``Adam.step`` would pass, so the numbers are torch's to the bit. Anything else (other
    optimisers or options, several tensors, step hooks, a ``step`` patched by a learning-rate
    scheduler, the first step) goes through ``optimizer.step()``.
    """
    direct = _direct_fused_adam(optimizer)
    if direct is None:
        optimizer.step()
        return
    param, state, group = direct
    state["step"].add_(1)
    beta1, beta2 = group["betas"]
    torch._fused_adam_(
        [param], [param.grad], [state["exp_avg"]], [state["exp_avg_sq"]], [], [state["step"]],
        amsgrad=False, lr=group["lr"], beta1=beta1, beta2=beta2,
        weight_decay=group["weight_decay"], eps=group["eps"], maximize=False,
        grad_scale=None, found_inf=None,
    )  # fmt: skip


def _direct_fused_adam(optimizer: torch.optim.Optimizer) -> tuple[Any, dict, dict] | None:
    """``(param, state, group)`` where :func:`step_optimizer` may call the kernel, else None."""
    if type(optimizer) is not torch.optim.Adam or "step" in vars(optimizer):
        return None
    if (
        optimizer._optimizer_step_pre_hooks
        or optimizer._optimizer_step_post_hooks
        or _global_optimizer_pre_hooks
        or _global_optimizer_post_hooks
        or len(optimizer.param_groups) != 1
        or getattr(optimizer, "grad_scale", None) is not None  # set by AMP's GradScaler
        or getattr(optimizer, "found_inf", None) is not None
    ):
        return None
    group = optimizer.param_groups[0]
    if len(group["params"]) != 1 or not group.get("fused"):
        return None
    plain = not any(
        group.get(option) for option in ("amsgrad", "maximize", "capturable", "differentiable")
    )
    (param,) = group["params"]
    state = optimizer.state.get(param, {})
    if not (
        plain
        and not group.get("decoupled_weight_decay")
        and isinstance(group["lr"], float)
        and param.grad is not None
        and param.device.type == "cpu"
        and {"step", "exp_avg", "exp_avg_sq"} <= state.keys()
    ):
        return None
    return param, state, group
