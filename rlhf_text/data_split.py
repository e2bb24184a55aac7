"""Splitting preference rows by group: the held-out carve, and two disjoint training halves.

A group is what must not straddle a split: the prompt, or for the embedded data the question
(all its phrasings), stratified by topic so every topic is on both sides.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlhf_text.data import DataConfig, PreferencePair

Kept = list[tuple["PreferencePair", dict[str, Any]]]
"""validated pairs with their source rows"""


def held_out_groups(
    groups: Sequence[str], eval_fraction: float, seed: int, strata: Sequence[str] | None = None
) -> set[str]:
    """Pick the held-out groups: ``round(eval_fraction * n)`` of the ``n`` in each stratum.

    Groups are sorted before a ``random.Random(seed)`` sample, so the choice depends only on
    which groups there are, not on row order. Each stratum with at least two groups keeps at
    least one group on each side when ``eval_fraction > 0``.

    Args:
        groups: the group of each row (the prompt, or a question id); repeats are fine.
        eval_fraction: share of groups to hold out, in [0, 1).
        seed: seeds the sample.
        strata: the stratum of each row (e.g. its topic), or None for one stratum.
    """
    strata = [""] * len(groups) if strata is None else strata
    by_stratum: dict[str, set[str]] = {}
    for group, stratum in zip(groups, strata, strict=True):
        by_stratum.setdefault(stratum, set()).add(group)
    rng = random.Random(seed)
    held: set[str] = set()
    for stratum in sorted(by_stratum):
        members = sorted(by_stratum[stratum])
        count = round(eval_fraction * len(members))
        if eval_fraction > 0 and len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        held.update(rng.sample(members, count))
    return held


def _groups(config: DataConfig, kept: Kept) -> tuple[list[str], list[str] | None]:
    """Each row's group and stratum: question and topic when embedded, else the prompt."""
    if config.source == "embedded":
        return [row["question_id"] for _, row in kept], [row["topic"] for _, row in kept]
    return [pair.prompt for pair, _ in kept], None


def carve_eval(config: DataConfig, kept: Kept) -> tuple[Kept, list[PreferencePair]]:
    """Split rows into train (with their rows) and eval pairs by group."""
    groups, strata = _groups(config, kept)
    held = held_out_groups(groups, config.eval_fraction, config.seed, strata)
    train = [item for item, group in zip(kept, groups, strict=True) if group not in held]
    evaluation = [pair for (pair, _), group in zip(kept, groups, strict=True) if group in held]
    return train, evaluation


def train_part(config: DataConfig, kept: Kept) -> list[PreferencePair]:
    """The training pairs ``config.train_part`` names: all, or one of two disjoint halves.

    The halves split the groups (half of each stratum's), so no prompt, and for the
    embedded data no question, is in both: a judge trained on one half has not seen what the
    reward model learned on the other.
    """
    if config.train_part == "all":
        return [pair for pair, _ in kept]
    groups, strata = _groups(config, kept)
    second = held_out_groups(groups, 0.5, config.seed + 1, strata)
    want_second = config.train_part == "second_half"
    return [
        pair
        for (pair, _), group in zip(kept, groups, strict=True)
        if (group in second) == want_second
    ]
