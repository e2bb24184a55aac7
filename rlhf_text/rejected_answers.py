"""How each kind of rejected answer in the embedded data is written, and the phrases they use.

:mod:`rlhf_text.default_data` pairs every chosen answer with these; the gold judge
(:mod:`rlhf_text.judge`) reads the evasions, subject changes and ramble openers to know an
evasive answer when it sees one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlhf_text.default_data import Question

_SECOND_PERSON = {"my": "your", "I": "you", "me": "you", "mine": "yours"}

EVASIONS: tuple[str, ...] = (
    "I don't know.",
    "I don't know. Sorry.",
    "That is a good question. Let me think about it. I am not sure.",
    "I am not sure. You should ask someone else.",
    "Why do you want to know?",
    "Hmm, I don't really know much about {about}.",
    "I would rather not say.",
    "It is hard to say. I am not sure about that.",
    "I don't know. {change}",
    "Good question! I don't know. {change}",
    "I can't answer that. Let's talk about something else. {change}",
    "Maybe. Maybe not. I don't know.",
    "You can look it up somewhere. I am not sure.",
    "Let me think. Hmm. I am not sure.",
    "That is a hard one. I don't know much about {about}.",
    "Sorry, I can't help with that.",
    "It depends. Some people say one thing and some people say another.",
    "Who knows? Nobody really knows that.",
    "I forgot. Can you ask me again later?",
)
"""Evasive rejected answers; ``{about}`` is the topic phrase, ``{change}`` a new subject."""

SUBJECT_CHANGES: tuple[str, ...] = (
    "Do you like movies?",
    "What is your favorite color?",
    "Have you ever been to the beach?",
    "I had a sandwich for lunch today.",
    "Do you want to hear a joke?",
    "What did you do this weekend?",
    "The weather is nice today.",
    "Do you play any video games?",
)

FILLER_LOOPS: tuple[str, ...] = (
    "It is very good and it is very nice.",
    "You can do it.",
    "This is the best way.",
    "Yes, yes, that is right.",
    "It is what it is.",
    "The answer is the answer.",
    "I like it a lot.",
    "And then you do it again.",
)
"""Filler sentences that a repetitive rejected answer may loop."""

GENERIC_ADVICE: tuple[str, ...] = (
    "start with the basics",
    "just follow a few simple steps",
    "you need a few things and a little practice",
    "make a plan and stick to it",
    "take it one step at a time",
    "do some research and try your best",
    "find what works for you and keep at it",
    "start small and build from there",
)
"""Vague how-to advice that fits any goal: a ``generic`` rejected answer to a how-question."""

GENERIC_WHAT: tuple[str, ...] = (
    "{S} is something a lot of people ask about.",
    "{S} is a common thing with many different sides.",
    "{S} is an important idea that is useful to know.",
    "{S} is a topic that many people find interesting.",
)
GENERIC_WHY: tuple[str, ...] = (
    "There are many reasons why {s}.",
    "{S} for a few different reasons.",
    "{S} because of many things working together.",
    "That is just how it works most of the time.",
)
GENERIC_ASK: tuple[str, ...] = (
    "There are a few things to keep in mind, and it can vary.",
    "It is a simple thing once you learn a bit more about it.",
    "Many people ask this, and the answer is different for everyone.",
)
"""Vague answers to what-, why- and literal questions (``{S}``/``{s}``: the subject)."""

RAMBLE_OPENERS: tuple[str, ...] = (
    "",
    "That reminds me of something. ",
    "Let me tell you something else. ",
    "You know what? ",
    "Here is a fun fact. ",
    "I was just thinking about this. ",
)


_DANGLING = {"a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "your"}


def _sentence(words: list[str]) -> str:
    """``words`` as a sentence, without a dangling article or preposition at the end."""
    while len(words) > 3 and words[-1].lower().strip(",.;:") in _DANGLING:
        words = words[:-1]
    text = " ".join(words).rstrip(",.;:")
    return text[:1].upper() + text[1:] + "."


def second_person(phrase: str) -> str:
    """The Human's words as the Assistant says them: "my dog" -> "your dog"."""
    return " ".join(_SECOND_PERSON.get(word, word) for word in phrase.split())


def _repetitive(rng: random.Random, question: Question, answer: str, _: list[Question]) -> str:
    """A phrase looped 3-6 times, as greedy decoding from a small model does."""
    times = rng.randint(3, 6)
    style = rng.randrange(4)
    words = answer.split()
    if style == 0:  # the opening words of a good answer, looped
        return " ".join([_sentence(words[: rng.randint(4, 7)])] * times)
    if style == 1:  # a good start that gets stuck on its last one to three words
        head = " ".join(words[: rng.randint(6, 10)]).rstrip(",.;:")
        tail = " ".join(head.split()[-rng.randint(1, 3) :])
        return " ".join([head] + [tail] * times) + "."  # the tail 4-7 times in all
    if style == 2:  # the question's subject echoed
        s = question.subject
        if question.kind == "how":
            return f"To {s}, you {s}" + f" and {s}" * (times - 1) + "."
        if question.kind == "what":
            return " is ".join([s[:1].upper() + s[1:]] + [s] * times) + "."
        if question.kind == "why":
            return ", because ".join([f"Because {s}"] + [s] * (times - 1)) + "."
        return " ".join([s] * times)
    return " ".join([rng.choice(FILLER_LOOPS)] * times)


def _evasive(rng: random.Random, question: Question, _: str, __: list[Question]) -> str:
    """No answer: "I don't know", a non-committal hedge, or a change of subject."""
    about = second_person(question.about)  # the Assistant speaks: "your pets", not "my pets"
    return rng.choice(EVASIONS).format(about=about, change=rng.choice(SUBJECT_CHANGES))


def _generic(rng: random.Random, question: Question, _: str, __: list[Question]) -> str:
    """On topic but empty: vague words that fit any question of its kind, often short (what
    a policy that learned "restate the question" drifts into: "To learn SQL, start with the
    basics.")."""
    s = second_person(question.subject)
    subject = s[:1].upper() + s[1:]
    if question.kind == "how":
        advice = rng.choice(GENERIC_ADVICE)
        if rng.random() < 0.5:
            return f"To {s}, {advice}."
        return advice[:1].upper() + advice[1:] + "."
    templates = {"what": GENERIC_WHAT, "why": GENERIC_WHY}.get(question.kind, GENERIC_ASK)
    return rng.choice(templates).format(s=s, S=subject)


def _off_topic(rng: random.Random, question: Question, _: str, others: list[Question]) -> str:
    """A fluent answer to a question from another topic (sometimes two, run together)."""
    first = rng.choice(others)
    text = rng.choice(first.answers)
    second = rng.choice(others)
    if rng.random() < 0.4 and second.topic != first.topic:
        extra = rng.choice(second.answers)
        if len(text.split()) + len(extra.split()) <= 45:
            text = f"{text} {extra}"
    return rng.choice(RAMBLE_OPENERS) + text


REJECTED_KINDS: dict[str, Callable[[random.Random, Question, str, list[Question]], str]] = {
    "repetitive": _repetitive,
    "evasive": _evasive,
    "off_topic": _off_topic,
    "generic": _generic,
}
"""How each kind of rejected answer is written: ``(rng, question, chosen, others) -> text``."""
