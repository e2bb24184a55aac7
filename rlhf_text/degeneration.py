"""Measures of degenerate text that trust no reward model: loops, low diversity, no EOS.

A policy that over-optimises a learned reward often drifts into text the reward model likes
and a reader does not: the same phrase looped, the same few words in every answer, answers
that never end. These measures see that from the text alone.

| Key | Meaning |
|---|---|
| ``degeneration/repeated_ngram_rate`` | share of word trigrams repeating an earlier one, mean |
| ``degeneration/distinct_1`` | distinct unigrams / all words of the batch (Li et al., 2016) |
| ``degeneration/distinct_2`` | distinct bigrams / all words of the batch (Li et al., 2016) |
| ``degeneration/looping_rate`` | share of responses :func:`looks_looping` flags |
| ``degeneration/mean_words`` | mean whitespace-separated words per response |
| ``degeneration/eos_rate`` | share of responses that ended with EOS (only when given) |

Words are lower-cased runs of letters, digits and apostrophes, so ``"Egg."`` and ``"egg"`` are
one word. Distinct-n follows Li et al. 2016, "A Diversity-Promoting Objective Function for
Neural Conversation Models" (NAACL): the number of distinct n-grams of the generated
responses, pooled over the batch, scaled by the total number of generated words (some later
code divides by the number of n-grams instead, which only differs for n > 1).

:class:`OverOptimisationMonitor` watches the sign of the gap Gao et al. 2022, "Scaling Laws
for Reward Model Overoptimization" (arXiv:2210.10760), describe: the proxy (training) reward
keeps rising while the gold reward (here a judge such as :class:`rlhf_text.judge.GoldJudge`)
falls.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from envs.rewards.text import RepetitionPenalty

LOOP_MIN_PHRASE_WORDS = 2
"""Shortest phrase that counts as a loop when it repeats back to back."""
LOOP_MIN_REPEATS = 3
"""How many times in a row a phrase must occur to be a loop."""
LOOP_MAX_PHRASE_WORDS = 12
"""Longest phrase looked for (longer loops also push the repeated n-gram rate up)."""
LOOP_REPEATED_NGRAM_RATE = 0.3
"""A response whose repeated trigram rate is above this is looping even without back-to-back
repeats ("A is B. A is C. A is B. A is C."); fluent one- or two-sentence answers sit near 0."""
LOOP_SINGLE_WORD_REPEATS = 4
"""One word this many times in a row ("very very very very") is a loop too."""

_WORD = re.compile(r"[a-z0-9']+")
# Five of one letter ("ncccccc") or a 2-4 letter unit four times ("abababab"); real words
# have neither, and digits are left out so "1000000" is not a loop.
_CHARACTER_LOOP = re.compile(r"([a-z])\1{4,}|([a-z]{2,4})\2{3,}", re.IGNORECASE)


def words(text: str) -> list[str]:
    """The lower-cased words of ``text``: runs of letters, digits and apostrophes."""
    return _WORD.findall(text.lower())


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def repeated_ngram_rates(responses: list[str], n: int = 3) -> np.ndarray:
    """Each response's share of word n-grams that repeat an earlier n-gram in it.

    The formula is :class:`envs.rewards.text.RepetitionPenalty`'s (negated), applied to
    :func:`words` so that case and punctuation do not hide a loop.

    Returns:
        float64 of shape (len(responses),), each in [0, 1); 0 for fewer than ``n`` words.
    """
    normalised = [" ".join(words(response)) for response in responses]
    return -RepetitionPenalty(n).score(normalised, normalised)


def distinct_n(responses: list[str], n: int) -> float:
    """Distinct n-grams over the batch / all words of the batch (Li et al., 2016).

    n-grams do not cross responses. Returns 0.0 for a batch without words.
    """
    tokenised = [words(response) for response in responses]
    total_words = sum(len(tokens) for tokens in tokenised)
    distinct = {gram for tokens in tokenised for gram in _ngrams(tokens, n)}
    return len(distinct) / total_words if total_words else 0.0


def _has_back_to_back_repeat(tokens: list[str]) -> bool:
    """Whether one word, or a phrase of 2..LOOP_MAX_PHRASE_WORDS words, repeats in a row."""
    lengths = [1, *range(LOOP_MIN_PHRASE_WORDS, LOOP_MAX_PHRASE_WORDS + 1)]
    for length in lengths:
        repeats = LOOP_SINGLE_WORD_REPEATS if length == 1 else LOOP_MIN_REPEATS
        for start in range(len(tokens) - length * repeats + 1):
            phrase = tokens[start : start + length]
            if all(
                tokens[start + k * length : start + (k + 1) * length] == phrase
                for k in range(1, repeats)
            ):
                return True
    return False


def looks_looping(response: str, n: int = 3) -> bool:
    """Whether ``response`` loops: the signature of greedy decoding stuck in a cycle.

    True when a phrase of at least :data:`LOOP_MIN_PHRASE_WORDS` words occurs
    :data:`LOOP_MIN_REPEATS` times back to back (or one word :data:`LOOP_SINGLE_WORD_REPEATS`
    times), when its repeated word n-gram rate is above :data:`LOOP_REPEATED_NGRAM_RATE`, or
    when a character loop sits inside a word ("ncccccccccccc", "hahahahaha").
    """
    if _CHARACTER_LOOP.search(response):
        return True
    tokens = words(response)
    if _has_back_to_back_repeat(tokens):
        return True
    return bool(repeated_ngram_rates([response], n)[0] > LOOP_REPEATED_NGRAM_RATE)


def degeneration_stats(
    responses: list[str], ended_with_eos: list[bool] | None = None, n: int = 3
) -> dict[str, float]:
    """Degeneration metrics of a batch of sampled responses (the keys of the module table).

    Args:
        responses: the generated texts, without their prompts; at least one.
        ended_with_eos: whether each response ended with the EOS token (False: cut at the
            length limit), or None to leave ``degeneration/eos_rate`` out.
        n: words per n-gram of the repeated n-gram rate.

    Returns:
        ``dict[str, float]`` under ``degeneration/`` keys.

    Raises:
        ValueError: no responses, or ``ended_with_eos`` of another length.
    """
    if not responses:
        raise ValueError("degeneration_stats needs at least one response")
    stats = {
        "degeneration/repeated_ngram_rate": float(repeated_ngram_rates(responses, n).mean()),
        "degeneration/distinct_1": distinct_n(responses, 1),
        "degeneration/distinct_2": distinct_n(responses, 2),
        "degeneration/looping_rate": float(np.mean([looks_looping(r, n) for r in responses])),
        "degeneration/mean_words": float(np.mean([len(r.split()) for r in responses])),
    }
    if ended_with_eos is not None:
        if len(ended_with_eos) != len(responses):
            raise ValueError(
                f"got {len(responses)} responses but {len(ended_with_eos)} ended_with_eos flags"
            )
        stats["degeneration/eos_rate"] = float(np.mean(np.asarray(ended_with_eos, dtype=bool)))
    return stats


@dataclass
class OverOptimisationMonitor:
    """Warns when the training reward rises while a gold judge falls (Gao et al., 2022).

    Fed one (training reward mean, judge mean) per iteration. The trend of each over the last
    ``window`` iterations is the least-squares slope times ``window - 1`` (the fitted change
    across the window), which a single noisy iteration moves less than an endpoint difference.
    It warns when the reward's change is above ``reward_tolerance`` and the judge's is below
    ``-judge_tolerance``, and, when each judge mean comes with its standard error (a mean of
    a few sampled answers is noisy), also below ``-noise_z`` standard errors of that fitted
    change: a judge that merely wobbles inside its sampling noise does not warn. It also keeps
    the iteration with the best judge mean, the one whose
    checkpoint a trainer should keep. Its fields are plain values: a trainer saves
    ``dataclasses.asdict(monitor)`` and resumes with ``OverOptimisationMonitor(**saved)``.

    Args:
        window: iterations the trends are fitted over, at least 2. Defaults to 5.
        reward_tolerance: least rise of the training reward across the window that counts
            (reward units), at least 0. Defaults to 0.0.
        judge_tolerance: least fall of the judge across the window that counts (judge
            units), at least 0. Defaults to 0.0.
        noise_z: how many standard errors of the judge's fitted change its fall must exceed,
            at least 0 (0: ignore the noise). Defaults to 2.0.
    """

    window: int = 5
    reward_tolerance: float = 0.0
    judge_tolerance: float = 0.0
    noise_z: float = 2.0
    history: list[tuple[int, float, float]] = field(default_factory=list)
    """(iteration, reward mean, judge mean) as fed"""
    judge_stderrs: list[float] = field(default_factory=list)
    """each fed judge mean's standard error (0.0 when not given), in step with ``history``"""
    best_iteration: int | None = None
    """the iteration with the highest judge mean so far (the first of equals)"""
    best_judge: float = -math.inf
    """that judge mean"""

    def __post_init__(self) -> None:
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 2:
            raise ValueError(f"window must be an int >= 2, got {self.window!r}")
        # a monitor saved before standard errors were kept has none for its history
        missing = len(self.history) - len(self.judge_stderrs)
        self.judge_stderrs = [0.0] * missing + list(self.judge_stderrs)
        for name in ("reward_tolerance", "judge_tolerance", "noise_z"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    def update(
        self, iteration: int, reward_mean: float, judge_mean: float, judge_stderr: float = 0.0
    ) -> str | None:
        """Record one iteration; return a warning string when over-optimisation shows, else None.

        ``judge_stderr`` is the judge mean's standard error (the scores' standard deviation
        over the square root of their count), or 0.0 when unknown.

        Raises:
            ValueError: a NaN or infinite mean.
        """
        if not (math.isfinite(reward_mean) and math.isfinite(judge_mean)):
            raise ValueError(
                f"iteration {iteration}: means must be finite, got "
                f"reward {reward_mean!r}, judge {judge_mean!r}"
            )
        self.history.append((iteration, float(reward_mean), float(judge_mean)))
        self.judge_stderrs.append(float(judge_stderr))
        if judge_mean > self.best_judge:
            self.best_iteration, self.best_judge = iteration, float(judge_mean)
        if len(self.history) < self.window:
            return None
        recent = np.asarray(self.history[-self.window :], dtype=np.float64)  # (window, 3)
        steps = np.arange(self.window, dtype=np.float64) - (self.window - 1) / 2
        # least-squares slope; the centred steps sum to 0, so a flat series gives exactly 0
        slopes = steps @ (recent[:, 1:] - recent[:, 1:].mean(axis=0)) / (steps @ steps)
        reward_change, judge_change = slopes * (self.window - 1)  # fitted change over the window
        # the fitted change is a weighted sum of the window's means: its standard error
        weights = steps * (self.window - 1) / (steps @ steps)
        noise = float(np.sqrt(np.sum((weights * self.judge_stderrs[-self.window :]) ** 2)))
        fall = max(self.judge_tolerance, self.noise_z * noise)
        if reward_change > self.reward_tolerance and judge_change < -fall:
            return (
                f"possible reward over-optimisation at iteration {iteration}: over the last "
                f"{self.window} iterations the training reward rose by {reward_change:+.3g} "
                f"while the judge changed by {judge_change:+.3g}; best judged iteration is "
                f"{self.best_iteration} ({self.best_judge:.3g})"
            )
        return None
