"""Swappable rewards for text generation: one protocol, rules, user functions and sums of them.

Every text reward scores a batch of (prompt, response) pairs at once and returns one float per
pair. Batches matter for reward models, and a rule costs nothing extra for taking a list.

| Reward | Score of one response | Range |
|---|---|---|
| `LengthWindow` | `-penalty_per_word * words outside [min_words, max_words]` | (-inf, 0] |
| `RepetitionPenalty` | `-(repeated word n-grams / all word n-grams)` | (-1, 0] |
| `KeywordPresence` | fraction of the keywords present as whole words (or 1/0 for any) | [0, 1] |
| `CallableReward` | whatever `fn(prompts, responses)` returns | |
| `WeightedSum` | `sum(weight * term)`; each term also reported unweighted | |
| `RewardModelScorer` | a sequence-classification model's score of prompt + response | |

"Words" are the response's whitespace-separated pieces (`str.split()`), punctuation included.
Environments call `evaluate_reward`, which checks the scores and returns the terms for `info`.
A YAML config picks a reward with no code through `build_text_reward`.

This module imports numpy only; `RewardModelScorer` (torch, transformers) lives in
`envs.rewards.reward_model` and is imported when a config asks for it.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from envs.rewards.resolve import check_call_signature, resolve_callable

__all__ = [
    "CallableReward",
    "KeywordPresence",
    "LengthWindow",
    "RepetitionPenalty",
    "TextReward",
    "WeightedSum",
    "build_text_reward",
    "check_scores",
    "check_texts",
    "evaluate_reward",
    "reward_name",
]


from envs.rewards.text_base import (  # noqa: F401 - part of this module's API
    TextReward,
    _check_int,
    _check_real,
    check_scores,
    check_texts,
    reward_name,
)


@dataclass(frozen=True)
class LengthWindow:
    """Penalises responses shorter or longer than a window of words; 0 inside it.

    score = `-penalty_per_word * (min_words - words)` below the window,
    `-penalty_per_word * (words - max_words)` above it, where words = `len(response.split())`.

    Args:
        min_words: Fewest words without penalty. Defaults to 5.
        max_words: Most words without penalty, at least `min_words`. Defaults to 60.
        penalty_per_word: Reward lost per word outside the window (reward units per word),
            at least 0. Defaults to 0.1.
    """

    min_words: int = 5
    max_words: int = 60
    penalty_per_word: float = 0.1

    def __post_init__(self) -> None:
        _check_int("min_words", self.min_words, 0)
        _check_int("max_words", self.max_words, self.min_words)
        _check_real("penalty_per_word", self.penalty_per_word, 0.0)

    def score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        """Returns the length penalty of each response, float64 of shape (n,)."""
        words = np.array([len(response.split()) for response in responses], dtype=np.float64)
        outside = np.maximum(self.min_words - words, 0) + np.maximum(words - self.max_words, 0)
        return -self.penalty_per_word * outside


@dataclass(frozen=True)
class RepetitionPenalty:
    """Minus the fraction of a response's word n-grams that repeat an earlier one.

    score = `-(1 - distinct n-grams / all n-grams)`: 0 when no n-gram repeats, towards -1 for a
    loop (`"a b a b a b ..."`). Responses of fewer than `n` words score 0. Words are compared
    exactly (case and punctuation count).

    Args:
        n: Words per n-gram, at least 1. Defaults to 3.
    """

    n: int = 3

    def __post_init__(self) -> None:
        _check_int("n", self.n, 1)

    def score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        """Returns minus each response's repeated n-gram fraction, float64 of shape (n,)."""
        scores = np.zeros(len(responses), dtype=np.float64)
        for row, response in enumerate(responses):
            words = response.split()
            ngrams = [tuple(words[i : i + self.n]) for i in range(len(words) - self.n + 1)]
            if ngrams:
                scores[row] = -(1.0 - len(set(ngrams)) / len(ngrams))
        return scores


@functools.lru_cache(maxsize=1024)
def _whole_word_pattern(keyword: str, case_sensitive: bool) -> re.Pattern[str]:
    # Lookarounds rather than \b, so keywords that start or end in punctuation ("C++") match.
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.compile(rf"(?<!\w){re.escape(keyword)}(?!\w)", flags)


@dataclass(frozen=True)
class KeywordPresence:
    """Rewards responses that contain given keywords as whole words.

    A keyword matches where no letter, digit or underscore touches either end of it: `"cat"`
    matches in `"a cat."` but not in `"concatenate"`; `"C++"` matches in `"C++."` but not in
    `"C++x"`. A keyword may hold spaces (`"new york"`).

    Args:
        keywords: The keywords, a non-empty list of non-empty strings.
        case_sensitive: Whether `"Cat"` differs from `"cat"`. Defaults to False.
        mode: `"fraction"` scores the fraction of keywords present, in [0, 1]; `"any"` scores 1
            if at least one is present, else 0. Defaults to "fraction".
    """

    keywords: Sequence[str]
    case_sensitive: bool = False
    mode: Literal["any", "fraction"] = "fraction"

    def __post_init__(self) -> None:
        keywords = self.keywords
        if isinstance(keywords, str) or not isinstance(keywords, Sequence) or not keywords:
            raise ValueError(f"keywords must be a non-empty list of strings, got {keywords!r}")
        if not all(isinstance(keyword, str) and keyword.strip() for keyword in keywords):
            raise ValueError(f"keywords must be non-empty strings, got {keywords!r}")
        object.__setattr__(self, "keywords", tuple(keywords))
        if not isinstance(self.case_sensitive, bool):
            raise ValueError(f"case_sensitive must be a bool, got {self.case_sensitive!r}")
        if self.mode not in ("any", "fraction"):
            raise ValueError(f"mode must be 'any' or 'fraction', got {self.mode!r}")

    def score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        """Returns each response's keyword score, float64 of shape (n,)."""
        patterns = [_whole_word_pattern(word, self.case_sensitive) for word in self.keywords]
        present = np.array(
            [
                [pattern.search(response) is not None for pattern in patterns]
                for response in responses
            ],
            dtype=np.float64,
        ).reshape(len(responses), len(patterns))  # (n, keywords)
        return present.max(axis=1, initial=0.0) if self.mode == "any" else present.mean(axis=1)


class CallableReward:
    """Wraps a function `fn(prompts, responses) -> n floats` as a `TextReward`.

    Args:
        fn: The function, or its import path `"package.module:function"`.
        name: The name it is logged under. Defaults to None: the function's `__name__`.
    """

    def __init__(self, fn: Callable[[list[str], list[str]], Any] | str, name: str | None = None):
        self.fn = resolve_callable(fn)
        self.name = name if name is not None else reward_name(self.fn)
        check_call_signature(self.fn, ("prompts", "responses"), f"text reward {self.name}")

    def score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        """Returns `fn`'s scores, checked, float64 of shape (n,)."""
        return check_scores(self.fn(list(prompts), list(responses)), len(prompts), self.name)

    def __repr__(self) -> str:
        return f"CallableReward(fn={self.fn!r}, name={self.name!r})"


def _is_text_reward(obj: Any) -> bool:
    # The protocol check only looks for a `score` attribute, which a class has too.
    return isinstance(obj, TextReward) and not inspect.isclass(obj)


def _as_text_reward(reward: Any, label: str) -> TextReward:
    if _is_text_reward(reward):
        return reward
    if callable(reward) and not inspect.isclass(reward):
        return CallableReward(reward)
    raise ValueError(f"{label} must be a TextReward or a function, got {reward!r}")


class WeightedSum:
    """A weighted sum of named rewards: score = sum over terms of `weight * term.score`.

    Args:
        terms: `{name: (weight, reward)}`, or a list of `(name, weight, reward)`. Weights are
            finite numbers; a reward may be a `TextReward` or a function (see `CallableReward`).
    """

    def __init__(
        self,
        terms: Mapping[str, tuple[float, TextReward]] | Sequence[tuple[str, float, TextReward]],
    ) -> None:
        if isinstance(terms, Mapping):
            items = [(name, *pair) for name, pair in terms.items()]
        else:
            items = list(terms)
        if not items:
            raise ValueError("terms must name at least one reward")
        self.terms: dict[str, tuple[float, TextReward]] = {}
        for item in items:
            if not isinstance(item, tuple | list) or len(item) != 3:
                raise ValueError(f"each term must be (name, weight, reward), got {item!r}")
            name, weight, reward = item
            if not isinstance(name, str) or not name or name in self.terms:
                raise ValueError(f"term names must be distinct non-empty strings, got {name!r}")
            _check_real(f"weight of term {name!r}", weight)
            self.terms[name] = (float(weight), _as_text_reward(reward, f"term {name!r}"))

    def score_terms(self, prompts: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        """Returns each term's unweighted, checked score, float64 of shape (n,), by term name."""
        n = len(prompts)
        return {
            name: check_scores(reward.score(prompts, responses), n, name)
            for name, (_, reward) in self.terms.items()
        }

    def total(self, term_scores: Mapping[str, np.ndarray]) -> np.ndarray:
        """Returns the weighted sum, shape (n,), of the output of `score_terms`."""
        weighted = [weight * term_scores[name] for name, (weight, _) in self.terms.items()]
        return np.sum(weighted, axis=0)

    def score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        """Returns the weighted total, float64 of shape (n,)."""
        return self.total(self.score_terms(prompts, responses))

    def __repr__(self) -> str:
        return f"WeightedSum({self.terms!r})"


def evaluate_reward(
    reward: TextReward, prompts: Sequence[str], responses: Sequence[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Scores a batch and returns the total and its terms, for an environment's `info`.

    Args:
        reward: Any `TextReward` (a plain function is wrapped in `CallableReward`).
        prompts: n prompts.
        responses: The n responses to them.

    Returns:
        The checked total, float64 of shape (n,), and the terms: for a `WeightedSum`, each
        term's unweighted score by term name; otherwise `{reward_name(reward): total}`.

    Raises:
        ValueError: If the texts do not pair up, or the reward's scores are unfit (naming it).
    """
    prompts, responses = check_texts(prompts, responses)
    reward = _as_text_reward(reward, "reward")
    if isinstance(reward, WeightedSum):
        terms = reward.score_terms(prompts, responses)
        return reward.total(terms), terms
    name = reward_name(reward)
    total = check_scores(reward.score(prompts, responses), len(prompts), name)
    return total, {name: total}


def _weighted_sum(terms: Mapping[str, Mapping[str, Any]]) -> WeightedSum:
    """Builds a `WeightedSum` from `{name: {"weight": w, "reward": spec}}`."""
    if not isinstance(terms, Mapping) or not terms:
        raise ValueError(f"weighted_sum terms must be a non-empty mapping, got {terms!r}")
    built = {}
    for name, term in terms.items():
        if not isinstance(term, Mapping) or set(term) != {"weight", "reward"}:
            raise ValueError(
                f"weighted_sum term {name!r} must be {{'weight': w, 'reward': spec}}, got {term!r}"
            )
        built[name] = (term["weight"], build_text_reward(term["reward"]))
    return WeightedSum(built)


_TYPES: dict[str, Callable[..., TextReward] | None] = {
    "length_window": LengthWindow,
    "repetition": RepetitionPenalty,
    "keyword": KeywordPresence,
    "callable": CallableReward,
    "reward_model": None,  # RewardModelScorer, imported only when asked for (torch)
    "weighted_sum": _weighted_sum,
}


def _takes_no_arguments(function: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature: not a factory
        return False
    return all(
        parameter.default is not inspect.Parameter.empty
        or parameter.kind is inspect.Parameter.VAR_KEYWORD
        for parameter in parameters
    )


def _from_callable(target: Callable[..., Any], label: str) -> TextReward:
    """A class or a factory taking no arguments is called; any other function is wrapped."""
    if not inspect.isclass(target) and not _takes_no_arguments(target):
        return CallableReward(target)
    reward = target()
    if not _is_text_reward(reward):
        raise ValueError(f"{label!r} built a {type(reward).__name__}, which has no score method")
    return reward


def build_text_reward(spec: Any) -> TextReward:
    """Builds a text reward from a config value, so a YAML file can swap rewards with no code.

    | spec | Built |
    |---|---|
    | a `TextReward` | itself |
    | a function `fn(prompts, responses)` | `CallableReward(fn)` |
    | `"pkg.mod:fn"` naming such a function | `CallableReward(fn)` |
    | a class, or a function taking no arguments (or their import path) | what it returns |
    | `{"type": "length_window", **kwargs}` | `LengthWindow(**kwargs)` |
    | `{"type": "repetition", **kwargs}` | `RepetitionPenalty(**kwargs)` |
    | `{"type": "keyword", **kwargs}` | `KeywordPresence(**kwargs)` |
    | `{"type": "callable", "fn": "pkg.mod:fn", "name": ...}` | `CallableReward(fn, name)` |
    | `{"type": "reward_model", **kwargs}` | `envs.rewards.reward_model.RewardModelScorer` |
    | `{"type": "weighted_sum", "terms": {name: {"weight": w, "reward": spec}}}` | `WeightedSum` |

    Raises:
        ValueError: Naming the problem: an unknown type, unknown or missing arguments, an
            import path that does not resolve, or a built object that is not a `TextReward`.
    """
    if _is_text_reward(spec):
        return spec
    if isinstance(spec, str):
        return _from_callable(resolve_callable(spec), label=spec)
    if callable(spec):
        return _from_callable(spec, label=getattr(spec, "__qualname__", repr(spec)))
    if not isinstance(spec, Mapping):
        raise ValueError(f"a text reward spec must be a reward, function, str or dict: {spec!r}")
    kwargs = dict(spec)
    kind = kwargs.pop("type", None)
    if not isinstance(kind, str) or kind not in _TYPES:
        raise ValueError(f"unknown text reward type {kind!r}; expected one of {sorted(_TYPES)}")
    factory = _TYPES[kind]
    if factory is None:
        from envs.rewards.reward_model import RewardModelScorer as factory
    parameters = inspect.signature(factory).parameters
    unknown = sorted(set(kwargs) - set(parameters))
    if unknown:
        raise ValueError(
            f"text reward type {kind!r}: unknown arguments {unknown}; it takes {list(parameters)}"
        )
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as error:  # a required argument is missing
        raise ValueError(f"text reward type {kind!r}: {error}") from error
    return factory(**kwargs)
