"""Running observation normalisation, stored as buffers so checkpoints carry it."""

from __future__ import annotations

import torch
from torch import nn


class RunningNormalizer(nn.Module):
    """``clip((x - mean) / sqrt(var + eps))`` with mean and variance tracked over all data seen.

    The statistics are merged with the parallel-variance formula (Chan et al. 1979), as in
    Stable-Baselines3's ``RunningMeanStd``. They change only through :meth:`update`, never in
    ``forward``, so a PPO update sees the same normalisation its rollout was collected with.
    """

    def __init__(self, shape: tuple[int, ...], clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.clip = clip
        self.eps = eps
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))
        # float32 copies of the shift and scale that forward uses, refreshed whenever the
        # statistics change (update, load_state_dict): every act and every minibatch would
        # otherwise convert and square-root them again. Not saved; they follow .to(device).
        self.register_buffer("_mean32", torch.zeros(shape), persistent=False)
        self.register_buffer("_std32", torch.ones(shape), persistent=False)
        self._refresh()
        self.register_load_state_dict_post_hook(lambda module, _keys: module._refresh())

    @torch.no_grad()
    def _refresh(self) -> None:
        self._mean32.copy_(self.mean.to(torch.float32))
        self._std32.copy_(torch.sqrt(self.var.to(torch.float32) + self.eps))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Merge a batch ``[..., *shape]`` into the statistics."""
        x = x.reshape(-1, *self.mean.shape).to(torch.float64)
        batch_mean = x.mean(0)
        batch_var = x.var(0, unbiased=False)
        batch_count = x.shape[0]
        delta = batch_mean - self.mean
        total = self.count + batch_count
        new_mean = self.mean + delta * batch_count / total
        m2 = (
            self.var * self.count
            + batch_var * batch_count
            + delta**2 * self.count * batch_count / total
        )
        self.mean.copy_(new_mean)
        self.var.copy_(m2 / total)
        self.count.copy_(total)
        self._refresh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32:
            normed = (x - self._mean32) / self._std32
        else:
            normed = (x - self.mean.to(x.dtype)) / torch.sqrt(self.var.to(x.dtype) + self.eps)
        return normed.clamp(-self.clip, self.clip)
