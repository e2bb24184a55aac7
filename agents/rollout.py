"""RolloutBatch: what one rollout hands to GAE and the PPO update.

Every per-step tensor is ``[B, T, ...]``: for the arm ``B`` is the number of parallel envs
and ``T`` the steps collected per env (episodes cross row boundaries); for text ``B`` is the
number of prompts and ``T`` the response length (one episode per row). ``mask`` is 1 for
real steps and 0 for padding (text after EOS) or for the reset step gymnasium's
``NEXT_STEP`` autoreset inserts after an episode ends (its action is ignored).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

Observation = torch.Tensor | dict[str, torch.Tensor]


def _map(value: Any, fn) -> Any:
    if isinstance(value, dict):
        return {k: _map(v, fn) for k, v in value.items()}
    return fn(value)


@dataclass
class RolloutBatch:
    """A ``[B, T]`` rollout. Fields left ``None`` are filled later (GAE fills advantages).

    Attributes:
        observations: ``[B, T, ...]`` tensor, or a dict of them, the input of each step.
        actions: ``[B, T, ...]`` the actions the policy sampled (before any env clipping).
        logprobs: ``[B, T]`` log-probabilities of ``actions`` under the behaviour policy.
        values: ``[B, T]`` V(observation_t) at collection time.
        rewards: ``[B, T]``.
        terminated: ``[B, T]`` bool: the MDP ended at this step (no bootstrap).
        truncated: ``[B, T]`` bool: cut by a time limit; bootstraps from ``next_values``.
        next_values: ``[B, T]`` V(observation after step t): at a truncation this is the
            value of the final observation; ignored where ``terminated``.
        mask: ``[B, T]`` float, 1 for real steps.
        advantages, returns: ``[B, T]``, set by :func:`agents.gae.compute_gae`.
        extras: any further ``[B, T]`` (or ``[B, ...]`` per-row) tensors a policy needs in
            ``evaluate`` or a caller wants to keep (e.g. ``ref_logprobs`` for text).
    """

    observations: Observation
    actions: torch.Tensor
    logprobs: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    next_values: torch.Tensor
    mask: torch.Tensor
    advantages: torch.Tensor | None = None
    returns: torch.Tensor | None = None
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """``(B, T)``."""
        return tuple(self.rewards.shape[:2])  # type: ignore[return-value]

    @property
    def num_real_steps(self) -> int:
        return int(self.mask.sum().item())

    def _apply(self, fn, per_row_fn=None) -> RolloutBatch:
        """Apply ``fn`` to each ``[B, T, ...]`` field (``per_row_fn`` to ``[B, ...]`` extras)."""
        updates = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or f.name == "extras":
                continue
            updates[f.name] = _map(value, fn)
        extras = {}
        b, t = self.shape
        for k, v in self.extras.items():
            per_step = v.dim() >= 2 and tuple(v.shape[:2]) == (b, t)
            if per_step:
                extras[k] = fn(v)
            elif per_row_fn is not None:
                extras[k] = per_row_fn(v)
            else:
                raise ValueError(f"extras[{k!r}] is per-row {tuple(v.shape)}: cannot flatten")
        return dataclasses.replace(self, **updates, extras=extras)

    def rows(self, index: torch.Tensor) -> RolloutBatch:
        """The rows ``index`` (a 1-D index tensor) of every field."""
        return self._apply(lambda x: x[index], lambda x: x[index])

    def flatten(self) -> RolloutBatch:
        """View as ``[B * T, 1]`` so minibatches can sample single steps (the arm's case)."""
        b, t = self.shape
        return self._apply(lambda x: x.reshape(b * t, 1, *x.shape[2:]))

    def to(self, device: torch.device | str) -> RolloutBatch:
        return self._apply(lambda x: x.to(device), lambda x: x.to(device))
