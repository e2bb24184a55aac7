"""Probe pairs: a good answer against six kinds of bad one, on prompts no step trains on.

``assets/probes.jsonl`` holds everyday questions that none of the embedded data's phrasings
ask, each with one good answer in the data's style and six bad ones of the kinds a small
model under PPO drifts into:

- ``loop``: one word or phrase looped;
- ``stuck``: a good start that then repeats a phrase (what PPO finds first);
- ``evasion``: no answer ("I'm not sure, maybe ask someone");
- ``filler``: generic words that fit any question;
- ``off_topic``: a fluent answer to another question;
- ``cut_off``: the good answer stopped mid-sentence.

A scorer (a reward model, the gold judge) passes a probe when it scores the good answer
above the bad one; :func:`probe_accuracy` gives the rate per kind and overall. Reward-model
accuracy on held-out pairs says the model learned the data; on probes, that it learned what
makes an answer good rather than the data's templates.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from rlhf_text.data import PreferencePair
from rlhf_text.default_data import format_prompt

BAD_KINDS = ("loop", "stuck", "evasion", "filler", "off_topic", "cut_off")
"""the bad answers each probe holds, in the order the tables show them"""


@dataclass(frozen=True)
class Probe:
    """One question with its good answer and one answer of each bad kind."""

    question: str
    answers: dict[str, str]
    """``"good"`` and every kind in :data:`BAD_KINDS` -> the answer's text"""
    batch: str
    """``first`` (written while the gold judge's terms were chosen) or ``second`` (written
    after, never tuned on)"""


def load_probes() -> list[Probe]:
    """The shipped probes, in file order."""
    text = resources.files("rlhf_text.assets").joinpath("probes.jsonl").read_text()
    probes = []
    for line in text.splitlines():
        row = json.loads(line)
        question, batch = row.pop("question"), row.pop("batch")
        probes.append(Probe(question, {k: row[k] for k in ("good", *BAD_KINDS)}, batch))
    return probes


def probe_pairs(
    probes: Sequence[Probe] | None = None, tokenizer: Any = None
) -> tuple[list[PreferencePair], list[str]]:
    """Every (good, bad) pair of the probes and its bad kind, in the data's prompt format.

    Args:
        probes: the probes; None loads the shipped ones.
        tokenizer: a tokenizer with a chat template, for runs with ``data.chat_template``:
            the prompts are then rendered in it, as the data's are; None keeps the
            rm-static ``"\\n\\nHuman: ...\\n\\nAssistant:"`` format.
    """
    probes = load_probes() if probes is None else probes
    pairs, kinds = [], []
    for probe in probes:
        for kind in BAD_KINDS:
            good, bad = probe.answers["good"], probe.answers[kind]
            pairs.append(PreferencePair(format_prompt(probe.question), " " + good, " " + bad))
            kinds.append(kind)
    if tokenizer is not None:
        from rlhf_text.chat import format_pairs

        pairs = format_pairs(pairs, tokenizer)
    return pairs, kinds


def probe_accuracy(
    score: Callable[[list[str], list[str]], np.ndarray],
    pairs: Sequence[PreferencePair],
    kinds: Sequence[str],
) -> dict[str, float]:
    """How often ``score(prompts, responses)`` ranks the good answer above the bad one.

    Returns:
        The rate per bad kind and ``"all"`` over every pair; a tie counts as a miss.
    """
    prompts = [pair.prompt for pair in pairs]
    good = np.asarray(score(prompts, [pair.chosen for pair in pairs]))
    bad = np.asarray(score(prompts, [pair.rejected for pair in pairs]))
    better = good > bad
    kinds = np.asarray(kinds)
    rates = {kind: float(better[kinds == kind].mean()) for kind in BAD_KINDS if kind in kinds}
    rates["all"] = float(better.mean())
    return rates
