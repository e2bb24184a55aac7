"""A rule-based gold judge of answers, built from the embedded data's own definitions.

The PPO step optimises a learned reward model, which a policy can fool. This judge is an
independent yardstick (the "gold" reward of Gao et al. 2022): rules that read what
:mod:`rlhf_text.default_data` says a chosen answer is ("on topic, helpful and one or two
sentences long") and how its rejected answers are written (looped, evasive, off topic).

| Term | Meaning (unweighted) | Range |
|---|---|---|
| ``on_topic`` | mean of prompt-word overlap and topic similarity | [0, 1] |
| ``specific`` | topical words in the answer / ``SPECIFIC_SATURATION``, capped | [0, 1] |
| ``evasion`` | trigrams of the generator's evasions and subject changes, / 2, capped | [0, 1] |
| ``repetition`` | repeated trigram rate, plus 1 when :func:`looks_looping` | [0, 2) |
| ``length`` | words outside the chosen answers' length range | [0, inf) |
| ``incomplete`` | 1 when the answer does not end a sentence (``.``, ``!``, ``?``) | {0, 1} |

score = ``topic_weight * on_topic + specific_weight * specific`` minus each penalty term times
its weight (``evasion_weight``, ``repetition_weight``, ``length_penalty_per_word``,
``incomplete_weight``).

*Content words* are stemmed words of 3+ letters that are neither function words nor words of
the data's question templates and greetings. *Prompt-word overlap* is the content words the
answer shares with the prompt, over ``OVERLAP_SATURATION``, capped at 1. A *topical* word is
one the questions and answers of at most ``MAX_TOPICS_PER_WORD`` topics use; it votes for
them, and *topic similarity* is the cosine between the prompt's and the answer's mean votes.
The *evasive* trigrams come from ``EVASIONS``, ``SUBJECT_CHANGES`` and ``RAMBLE_OPENERS`` of
:mod:`rlhf_text.default_data`, less any trigram a chosen answer uses.

What it cannot see: whether an answer is true or useful (a fluent wrong answer on topic scores
like a right one); relevance when the answer shares no word with the prompt and the prompt's
words are not in the data (then a good and an off-topic answer tie); evasions worded unlike
the generator's; a cut that falls at a sentence end. Restating the question raises
``on_topic``, so a policy trained on this judge would learn to echo the question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from envs.rewards.text_base import TextReward, _check_real, check_scores, check_texts, reward_name
from rlhf_text.default_data import (
    EVASIONS,
    OPENING_TURNS,
    QUESTION_TEMPLATES,
    RAMBLE_OPENERS,
    SUBJECT_CHANGES,
    Question,
    all_questions,
)
from rlhf_text.degeneration import looks_looping, repeated_ngram_rates, words

MAX_TOPICS_PER_WORD = 3
"""A word used by more topics than this says nothing about the topic."""
OVERLAP_SATURATION = 2
"""Content words shared with the prompt at which the overlap reaches 1."""
SPECIFIC_SATURATION = 3
"""Topical words in an answer at which ``specific`` reaches 1."""

_SIGNS = dict(on_topic=1, specific=1, evasion=-1, repetition=-1, length=-1, incomplete=-1)
"""The terms, in the order of GoldJudge's weight arguments: rewards +1, penalties -1."""
_FUNCTION_WORDS_TEXT = """a about after again all also am an and any are as at be because been
before being between both but by can could did do does doing done down during each even every
few for from get gets got had has have having he her here hers him his how i if in into is it
its just let like lot lots make makes many may me might more most much must my no nor not now
of off often on once one only or other our out over own really same she should so some such
than that the their them then there these they thing things this those through to too under
until up us use used very was way we well were what when where which while who why will with
would yes you your yours human assistant"""
_TEMPLATE_TEXTS = (*(t for ts in QUESTION_TEMPLATES.values() for t in ts), *sum(OPENING_TURNS, ()))
_STOPWORDS = frozenset(_FUNCTION_WORDS_TEXT.split()) | frozenset(
    word for text in _TEMPLATE_TEXTS for word in words(text.format(s="", about=""))
)
_CONTRACTIONS = [  # "don't" and "do not" must give the same trigrams
    (re.compile(pattern), replacement)
    for pattern, replacement in {
        r"\bcan't\b": "can not", r"\bwon't\b": "will not", r"n't\b": " not", r"'m\b": " am",
        r"'re\b": " are", r"'d\b": " would", r"\blet's\b": "let us",
        r"\b(it|that|what|there|here|who)'s\b": r"\1 is",
    }.items()
]  # fmt: skip
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s*$")


def _stem(word: str) -> str:
    """A crude suffix strip, so "eggs", "boiling" and "boiled" meet "egg" and "boil"."""
    for suffix in ("ing", "ed", "es", "s", "e", "y"):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    """The stemmed content words of ``text`` (see the module docstring)."""
    return {_stem(w) for w in words(text) if w not in _STOPWORDS and len(w) >= 3}


def _trigrams(text: str) -> set[tuple[str, ...]]:
    """Word trigrams of ``text``, lower-cased, contractions spelled out ("don't": do not)."""
    text = text.lower().replace("\u2019", "'")
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    tokens = words(text)
    return {tuple(tokens[i : i + 3]) for i in range(len(tokens) - 2)}


def _topic_votes(questions: Sequence[Question]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Topics, and each topical word's vote over them, shape (topics,), summing to 1."""
    topics = sorted({q.topic for q in questions})
    counts: dict[str, np.ndarray] = {}
    documents = np.zeros(len(topics))
    for q in questions:
        for text in (*q.phrasings, *q.answers):
            documents[topics.index(q.topic)] += 1
            for word in content_words(text):
                counts.setdefault(word, np.zeros(len(topics)))[topics.index(q.topic)] += 1
    votes = {}
    for word, count in counts.items():
        if np.count_nonzero(count) <= MAX_TOPICS_PER_WORD:
            rate = count / np.maximum(documents, 1)  # so a topic with more texts is not favoured
            votes[word] = rate / rate.sum()
    return topics, votes


class GoldJudge:
    """Scores answers by the embedded data's definition of a good one; a `TextReward` too.

    Args:
        questions: the questions whose words define the topics and whose chosen answers
            define the length range and the trigrams that are not evasive. Defaults to None:
            every question of the embedded data.
        topic_weight: weight of ``on_topic``. Defaults to 2.0.
        specific_weight: weight of ``specific``. Defaults to 0.5.
        evasion_weight: weight of ``evasion``. Defaults to 1.0.
        repetition_weight: weight of ``repetition``. Defaults to 2.0.
        length_penalty_per_word: score lost per word outside the length range. Defaults to 0.05.
        incomplete_weight: weight of ``incomplete``. Defaults to 0.5.
        min_words: fewest words without penalty; None: the shortest chosen answer's (11).
        max_words: most words without penalty; None: the longest chosen answer's with the
            goal restated in front ("To boil an egg, ..."), as the data does for how-questions
            (35).
    """

    name = "gold_judge"

    def __init__(
        self,
        questions: Sequence[Question] | None = None,
        topic_weight: float = 2.0,
        specific_weight: float = 0.5,
        evasion_weight: float = 1.0,
        repetition_weight: float = 2.0,
        length_penalty_per_word: float = 0.05,
        incomplete_weight: float = 0.5,
        min_words: int | None = None,
        max_words: int | None = None,
    ) -> None:
        questions = all_questions() if questions is None else tuple(questions)
        if not questions:
            raise ValueError("GoldJudge needs at least one question")
        given = (topic_weight, specific_weight, evasion_weight, repetition_weight)
        given += (length_penalty_per_word, incomplete_weight)
        self.weights: dict[str, float] = {}
        """each term's signed weight: score = sum of weight * term"""
        for (term, sign), weight in zip(_SIGNS.items(), given, strict=True):
            _check_real(f"the weight of {term}", weight, 0.0)
            self.weights[term] = sign * float(weight)
        answers = [(q, len(a.split())) for q in questions for a in q.answers]
        lengths = [n for _, n in answers]
        lengths += [n + len(q.subject.split()) + 1 for q, n in answers if q.kind == "how"]
        self.min_words = min(lengths) if min_words is None else min_words
        self.max_words = max(lengths) if max_words is None else max_words
        if not 0 <= self.min_words <= self.max_words:
            raise ValueError(
                f"need 0 <= min_words <= max_words, got {self.min_words}, {self.max_words}"
            )
        self.topics, self.votes = _topic_votes(questions)
        good = set().union(*(_trigrams(a) for q in questions for a in q.answers))
        evasions = (*EVASIONS, *SUBJECT_CHANGES, *RAMBLE_OPENERS)
        evasive = set().union(*(_trigrams(e.format(about="", change="")) for e in evasions))
        self.evasive_trigrams = frozenset(evasive - good)
        """trigrams of the generator's evasions that no chosen answer uses"""

    def topic_distribution(self, text: str) -> np.ndarray:
        """Mean vote of ``text``'s topical words, shape (topics,); zeros when none votes."""
        votes = [self.votes[w] for w in content_words(text) if w in self.votes]
        return np.mean(votes, axis=0) if votes else np.zeros(len(self.topics))

    def _on_topic(self, prompt: str, response: str) -> float:
        shared = content_words(prompt) & content_words(response)
        overlap = min(len(shared) / OVERLAP_SATURATION, 1.0)
        p, r = self.topic_distribution(prompt), self.topic_distribution(response)
        norms = np.linalg.norm(p) * np.linalg.norm(r)
        return 0.5 * (overlap + (float(p @ r / norms) if norms > 0 else 0.0))

    def _specific(self, response: str) -> float:
        topical = [w for w in content_words(response) if w in self.votes]
        return min(len(topical) / SPECIFIC_SATURATION, 1.0)

    def _evasion(self, response: str) -> float:
        return min(len(_trigrams(response) & self.evasive_trigrams) / 2, 1.0)

    def score_terms(self, prompts: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        """Each term of the module table, unweighted, float64 of shape (n,), by name."""
        prompts, responses = check_texts(prompts, responses)
        n_words = np.array([len(r.split()) for r in responses], dtype=np.float64)
        outside = np.maximum(self.min_words - n_words, 0) + np.maximum(n_words - self.max_words, 0)
        looping = [looks_looping(r) for r in responses]
        pairs = zip(prompts, responses, strict=True)
        return {
            "on_topic": np.array([self._on_topic(p, r) for p, r in pairs], dtype=np.float64),
            "specific": np.array([self._specific(r) for r in responses], dtype=np.float64),
            "evasion": np.array([self._evasion(r) for r in responses], dtype=np.float64),
            "repetition": repeated_ngram_rates(responses) + np.asarray(looping, dtype=np.float64),
            "length": outside,
            "incomplete": np.array([not _SENTENCE_END.search(r) for r in responses], dtype=float),
        }

    def score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        """The weighted score of each response to its prompt, float64 of shape (n,)."""
        terms = self.score_terms(prompts, responses)
        return np.sum([weight * terms[name] for name, weight in self.weights.items()], axis=0)


TIE_TOLERANCE = 1e-9
"""judge scores closer than this are a tie"""


def win_counts(
    scores_a: np.ndarray, scores_b: np.ndarray, tie_tolerance: float = TIE_TOLERANCE
) -> tuple[int, int, int]:
    """Wins, ties and losses of ``scores_a`` against ``scores_b``, item by item."""
    difference = np.asarray(scores_a, dtype=np.float64) - np.asarray(scores_b, dtype=np.float64)
    wins = int(np.sum(difference > tie_tolerance))
    losses = int(np.sum(difference < -tie_tolerance))
    return wins, difference.size - wins - losses, losses


def win_rate(
    judge: TextReward,
    prompts: list[str],
    responses_a: list[str],
    responses_b: list[str],
    tie_tolerance: float = TIE_TOLERANCE,
) -> dict[str, float]:
    """How often ``judge`` prefers ``responses_a`` to ``responses_b`` for the same prompts.

    Args:
        judge: any `TextReward`, e.g. a :class:`GoldJudge`.
        prompts: n prompts, n >= 1.
        responses_a: n responses, e.g. the PPO policy's.
        responses_b: n responses to the same prompts, e.g. the SFT policy's.
        tie_tolerance: scores closer than this are a tie.

    Returns:
        ``judge/win_rate`` ((wins + ties / 2) / n), ``judge/wins``, ``judge/ties``,
        ``judge/losses`` and ``judge/count`` (n).

    Raises:
        ValueError: no prompts, or lists of different lengths.
    """
    if not prompts or not len(prompts) == len(responses_a) == len(responses_b):
        raise ValueError(
            f"need n >= 1 prompts and n responses of each side, got {len(prompts)}, "
            f"{len(responses_a)}, {len(responses_b)}"
        )
    n, name = len(prompts), reward_name(judge)
    a, b = (check_scores(judge.score(prompts, r), n, name) for r in (responses_a, responses_b))
    wins, ties, losses = win_counts(a, b, tie_tolerance)
    counts = {"wins": wins, "ties": ties, "losses": losses, "count": n}
    return {"judge/win_rate": (wins + 0.5 * ties) / n} | {
        f"judge/{key}": float(value) for key, value in counts.items()
    }


def judge_for(choice: str, data_source: str) -> TextReward | None:
    """The independent judge a run's ``judge`` setting names.

    'gold' is the rule-based :class:`GoldJudge`; 'auto' is it when the data is the embedded
    set (its rules are that data's definitions), else none; 'none' is none; anything else is
    a reward-model directory (the pipeline's ``{judge_rm}``: a second reward model trained on
    the half of the data the training reward model never saw), scored as PPO's reward is.

    Raises:
        FileNotFoundError: a reward-model directory that does not exist.
    """
    if choice == "gold" or (choice == "auto" and data_source == "embedded"):
        return GoldJudge()
    if choice in ("auto", "none"):
        return None
    if not Path(choice).is_dir():
        raise FileNotFoundError(f"judge: no reward-model directory at {choice}")
    from envs.rewards.reward_model import RewardModelScorer

    return RewardModelScorer(choice)
