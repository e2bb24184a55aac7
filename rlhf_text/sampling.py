"""How the actor samples its tokens during rollouts: the settings, and a sampler that gives
each row its own random number, so a batch shared out over ranks samples what one process
sampling the whole batch would.

``generate`` draws every row's token with ``torch.multinomial`` from torch's global RNG, so
which token row ``i`` gets depends on the rows before it: split the batch over two ranks and
each rank's draws differ. Here each rollout seeds its own generator from the global RNG (one
draw, the same on every rank of a run seeded alike), each step draws one uniform for every
row of the whole batch, each rank keeps its rows' uniforms, and :func:`sample_tokens` turns a
row's uniform into its token by inverse-CDF sampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class SamplingConfig:
    """How the actor picks tokens while collecting rollouts."""

    temperature: float = 1.0
    """logits are divided by this; PPO's log-probs are those of softmax(logits / temperature)"""
    top_k: int = 0
    """keep only the k most likely tokens (0: off); makes sampling differ from the log-probs
    PPO trains on, so leave it off for PPO"""
    top_p: float = 1.0
    """nucleus sampling threshold (1.0: off); same caveat as top_k"""

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.top_k < 0 or not 0.0 < self.top_p <= 1.0:
            raise ValueError("top_k must be >= 0 and top_p in (0, 1]")


def make_warpers(sampling: SamplingConfig) -> list[Any]:
    """transformers' own logits warpers in ``generate``'s order, so the probabilities sampled
    from are exactly ``generate``'s."""
    from transformers.generation.logits_process import (
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    warpers: list[Any] = []
    if sampling.temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(sampling.temperature))
    if sampling.top_k:
        warpers.append(TopKLogitsWarper(sampling.top_k))
    if sampling.top_p < 1.0:
        warpers.append(TopPLogitsWarper(sampling.top_p))
    return warpers


def sample_tokens(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """One token per row of ``probs`` (B, V) by inverse-CDF sampling: row ``i`` takes the
    first token whose cumulative probability exceeds ``uniforms[i]`` (B,) in [0, 1) times the
    row's total. A token of probability 0 is never taken.

    The cumulative sum is in float64: in float32 a token of probability below half a unit
    in the last place of the running total (about 6e-8 near 1) would get an interval of
    width 0 or one unit, not its own probability. Even so it is many times faster than
    ``torch.multinomial`` on the CPU at a 50k vocabulary (``benchmarks/sampling_speed.py``).
    """
    cdf = probs.double().cumsum(-1)
    target = uniforms.to(device=cdf.device, dtype=cdf.dtype)[:, None] * cdf[:, -1:]
    tokens = torch.searchsorted(cdf, target, right=True).squeeze(1)
    tokens = tokens.clamp_(max=probs.shape[-1] - 1)
    # a target rounded up to the total lands past the last token of non-zero probability
    zero = probs.gather(-1, tokens[:, None]).squeeze(1) <= 0
    return torch.where(zero, probs.argmax(-1), tokens)


def rollout_sampler() -> torch.Generator:
    """A new rollout's generator of uniforms, seeded by one draw from torch's global RNG."""
    seed = int(torch.randint(0, 2**62, (1,)).item())
    return torch.Generator().manual_seed(seed)


def row_uniforms(sampler: torch.Generator, rows: int, shard: tuple[int, int]) -> torch.Tensor:
    """This step's uniforms for ``rows`` rows, share ``shard = (index, count)`` of a batch of
    ``rows * count`` rows shared out over ``count`` ranks (rows ``index, index + count, ...``,
    as :func:`agents.ranks.shard` splits it).

    Every share draws the whole batch's uniforms, so a row's uniform depends neither on how
    many ranks share the batch nor on where another rank's rollout stops.
    """
    index, count = shard
    return torch.rand(rows * count, generator=sampler)[index::count]
