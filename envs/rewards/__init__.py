"""Swappable reward functions for the environments, and the resolver that names them.

A reward is given to an environment either as a callable or as an import path string, so that
a YAML config can name a user's function: ``"package.module:function"`` or
``"package.module:Class.attribute"``.

Text rewards (`envs.rewards.text`) share one protocol, `TextReward`; `build_text_reward` makes
one from a config value. `RewardModelScorer` (`envs.rewards.reward_model`) is exported lazily
and left out of `__all__`: importing this package never imports torch or transformers.
"""

from __future__ import annotations

from typing import Any

from envs.rewards import text
from envs.rewards.resolve import resolve_callable
from envs.rewards.text import *  # noqa: F403 - the text rewards, listed in text.__all__

__all__ = [*text.__all__, "resolve_callable"]


def __getattr__(name: str) -> Any:
    """Imports `RewardModelScorer` (torch, transformers) on first use only (PEP 562)."""
    if name == "RewardModelScorer":
        from envs.rewards.reward_model import RewardModelScorer

        return RewardModelScorer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
