r"""The embedded default preference dataset: templated Human/Assistant dialogues, no download.

Rows follow the Dahoas/rm-static schema (``prompt + chosen`` is the whole chosen dialogue):
a question from one of twelve topics (cooking, gardening, home care, health habits, money,
pets, travel, sports, music, science, programming, study and work), a CHOSEN answer that is on
topic, helpful and one or two sentences long, and a REJECTED answer of the kind a small untuned
model writes:

- ``repetitive``: a phrase looped 3-6 times (the opening of a good answer, a good start stuck
  on its last words, the question's subject echoed, or a filler sentence);
- ``evasive``: "I don't know.", "That is a good question. Let me think about it. I am not
  sure.", sometimes changing the subject;
- ``off_topic``: a fluent answer to a question from another topic.

So a reward model can separate them by content: overlap with the prompt's words, no repeated
phrases, a reasonable length. Every question is asked in 2-5 phrasings (question templates
below, or the literal ``ask:`` questions of :mod:`rlhf_text.assets`); about one prompt in five
opens with a short greeting turn, so prompts can have two Human turns. Each prompt gets four
rows: one of each rejected kind and one more repetitive or evasive one, with the question's
answers taking turns as the chosen text. Everything is drawn from ``random.Random(seed)``, so
``embedded_rows(seed)`` returns the same rows on every machine.

Besides ``prompt``, ``chosen`` and ``rejected``, each row has ``topic``, ``question_id`` (one id
per question, shared by its phrasings; :func:`rlhf_text.data.load_preference_data` holds out
whole questions, per topic, so no paraphrase of an eval prompt is in train) and
``rejected_kind``. About two in five chosen answers to how-questions restate the goal first
("To stop a dripping faucet, shut off ..."), as assistants often do.

With seed 0: 4,084 rows, 1,021 distinct prompts (209 with a greeting turn), 240 questions,
2,459 distinct words; prompts average 14 words, chosen answers 11-35 words (mean 22),
rejected 3-60 (mean 20); 1,522 repetitive, 1,541 evasive and 1,021 off-topic rejected
answers. The default 10% hold-out is 24 questions: 104 prompts, 416 rows.

Example rows (seed 0)::

    {"prompt": "\n\nHuman: How do I stop a dripping faucet?\n\nAssistant:",
     "chosen": " To stop a dripping faucet, shut off the supply valve, remove the handle,"
               " and swap the old rubber washer for a new one of the same size.",
     "rejected": " Hmm, I don't really know much about your home."}
    {"prompt": "\n\nHuman: Hi! I have a question about travel.\n\nAssistant: Sure, go"
               " ahead.\n\nHuman: What is a layover?\n\nAssistant:",
     "chosen": " A layover is a stop between two flights on the same trip, where you wait"
               " at an airport before your next flight.",
     "rejected": " A layover is a layover is a layover is a layover is a layover is a layover."}
    {"prompt": "\n\nHuman: Can you explain why dogs eat grass?\n\nAssistant:",
     "chosen": " It is often normal behavior from boredom or curiosity, but frequent grass"
               " eating with vomiting should be checked by a vet.",
     "rejected": " It is often normal behavior from boredom or curiosity boredom or"
                 " curiosity boredom or curiosity boredom or curiosity boredom or"
                 " curiosity boredom or curiosity."}
    {"prompt": "\n\nHuman: What is the best way to start lifting weights?\n\nAssistant:",
     "chosen": " To start lifting weights, learn proper technique with a trainer, start"
               " light, add weight slowly, and rest a day between sessions for each muscle.",
     "rejected": " You know what? Search with flexible dates, fly midweek, set price alerts,"
                 " and check smaller airports close to your destination."}
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from rlhf_text.assets import dialogues_home, dialogues_knowledge, dialogues_living, dialogues_world

QUESTION_TEMPLATES: dict[str, tuple[str, ...]] = {
    "how": (
        "How do I {s}?",
        "What is the best way to {s}?",
        "Can you tell me how to {s}?",
        "I want to {s}. What should I do?",
        "Any tips on how to {s}?",
    ),
    "what": (
        "What is {s}?",
        "Can you explain what {s} is?",
        "I keep hearing about {s}. What is it?",
        "Could you tell me what {s} is?",
    ),
    "why": (
        "Do you know why {s}?",
        "Can you explain why {s}?",
        "I have always wondered why {s}. Do you know?",
        "What is the reason that {s}?",
    ),
}
"""Phrasings per question kind; ``ask:`` questions are used as written."""

OPENING_TURNS: tuple[tuple[str, str], ...] = (
    ("Can I ask you something about {about}?", "Of course. What would you like to know?"),
    ("Hi! I have a question about {about}.", "Sure, go ahead."),
    ("Hello.", "Hello! How can I help you today?"),
)
"""(Human, Assistant) greeting turns put before about one prompt in five."""

OPENING_TURN_PROBABILITY = 0.2
RESTATE_PROBABILITY = 0.4
"""Share of chosen answers to how-questions that start by restating the goal ("To X, ...")."""
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

RAMBLE_OPENERS: tuple[str, ...] = (
    "",
    "That reminds me of something. ",
    "Let me tell you something else. ",
    "You know what? ",
    "Here is a fun fact. ",
    "I was just thinking about this. ",
)

DIALOGUE_MODULES = (dialogues_home, dialogues_living, dialogues_world, dialogues_knowledge)


@dataclass(frozen=True)
class Question:
    """One question of the embedded data with its phrasings and its chosen answers."""

    topic: str
    """short topic name, e.g. ``"cooking"``"""
    about: str
    """the topic as it completes "a question about ...", e.g. ``"my pets"``"""
    kind: str
    """``"how"``, ``"what"``, ``"why"`` (phrased by templates) or ``"ask"`` (literal)"""
    subject: str
    """what the templates fill in (``"boil an egg"``), or the first literal question"""
    phrasings: tuple[str, ...]
    """the questions a Human asks, each a distinct prompt"""
    answers: tuple[str, ...]
    """chosen answers, one or two sentences each"""

    @property
    def question_id(self) -> str:
        """Stable id shared by all phrasings, e.g. ``"cooking/how: boil an egg"``."""
        return f"{self.topic}/{self.kind}: {self.subject}"


def _logical_lines(text: str) -> list[str]:
    """Join indented continuation lines onto the line above; drop blank lines."""
    lines: list[str] = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        if raw[0].isspace():
            if not lines:
                raise ValueError(f"continuation line with nothing to continue: {raw!r}")
            lines[-1] += " " + raw.strip()
        else:
            lines.append(raw.strip())
    return lines


def parse_dialogues(text: str) -> list[Question]:
    """Parse the template format of :mod:`rlhf_text.assets` into questions.

    Raises:
        ValueError: a line that fits no rule, an unknown kind, or a question without answers.
    """
    questions: list[Question] = []
    topic = about = None
    pending: tuple[str, str, tuple[str, ...]] | None = None
    answers: list[str] = []

    def close() -> None:
        if pending is not None:
            if not answers:
                raise ValueError(f"question without answers: {pending[1]!r}")
            questions.append(Question(topic, about, *pending, tuple(answers)))

    for line in _logical_lines(text):
        if line.startswith("@"):
            close()
            pending, answers = None, []
            topic, _, about = (part.strip() for part in line[1:].partition("|"))
        elif line.startswith("="):
            if pending is None:
                raise ValueError(f"answer before any question: {line!r}")
            answers.append(line[1:].strip())
        else:
            kind, sep, rest = line.partition(":")
            if not sep or topic is None or (kind not in QUESTION_TEMPLATES and kind != "ask"):
                raise ValueError(f"cannot parse dialogue line: {line!r}")
            close()
            answers = []
            if kind == "ask":
                asked = tuple(q.strip() for q in rest.split("|"))
                pending = (kind, asked[0], asked)
            else:
                subject = rest.strip()
                pending = (
                    kind,
                    subject,
                    tuple(t.format(s=subject) for t in QUESTION_TEMPLATES[kind]),
                )
    close()
    return questions


@lru_cache(maxsize=1)
def all_questions() -> tuple[Question, ...]:
    """Every question of the embedded data, in file order."""
    return tuple(q for module in DIALOGUE_MODULES for q in parse_dialogues(module.DIALOGUES))


def format_prompt(question: str, opening: tuple[str, str] | None = None) -> str:
    """The rm-static prompt for ``question``, optionally after one (Human, Assistant) turn."""
    turns = f"\n\nHuman: {opening[0]}\n\nAssistant: {opening[1]}" if opening else ""
    return f"{turns}\n\nHuman: {question}\n\nAssistant:"


_DANGLING = {"a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "your"}


def _sentence(words: list[str]) -> str:
    """``words`` as a sentence, without a dangling article or preposition at the end."""
    while len(words) > 3 and words[-1].lower().strip(",.;:") in _DANGLING:
        words = words[:-1]
    text = " ".join(words).rstrip(",.;:")
    return text[:1].upper() + text[1:] + "."


def _second_person(phrase: str) -> str:
    """The Human's words as the Assistant says them: "my dog" -> "your dog"."""
    return " ".join(_SECOND_PERSON.get(word, word) for word in phrase.split())


def _restate(subject: str, answer: str) -> str:
    """``"To boil an egg, put the egg ..."``: the answer, led by the question's goal."""
    goal = _second_person(subject)
    first = answer if answer[1:2].isupper() else answer[:1].lower() + answer[1:]
    return f"To {goal}, {first}"


def _repetitive(rng: random.Random, question: Question, answer: str, _: list[Question]) -> str:
    """A phrase looped 3-6 times, as greedy decoding from a small model does."""
    times = rng.randint(3, 6)
    style = rng.randrange(4)
    words = answer.split()
    if style == 0:  # the opening words of a good answer, looped
        return " ".join([_sentence(words[: rng.randint(4, 7)])] * times)
    if style == 1:  # a good start that gets stuck on its last three words
        head = " ".join(words[: rng.randint(6, 10)]).rstrip(",.;:")
        tail = " ".join(head.split()[-3:])
        return " ".join([head] + [tail] * (times - 1)) + "."
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
    about = _second_person(question.about)  # the Assistant speaks: "your pets", not "my pets"
    return rng.choice(EVASIONS).format(about=about, change=rng.choice(SUBJECT_CHANGES))


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
}
"""How each kind of rejected answer is written: ``(rng, question, chosen, others) -> text``."""


def _rows_for_prompt(
    rng: random.Random, question: Question, prompt: str, first_answer: int, others: list[Question]
) -> list[dict[str, str]]:
    kinds = ["repetitive", "evasive", "off_topic", rng.choice(["repetitive", "evasive"])]
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, kind in enumerate(kinds):
        answer = question.answers[(first_answer + i) % len(question.answers)]
        chosen = answer
        if question.kind == "how" and rng.random() < RESTATE_PROBABILITY:
            chosen = _restate(question.subject, answer)
        for _ in range(10):  # redraw a rejected text this prompt already has (rare)
            rejected = REJECTED_KINDS[kind](rng, question, answer, others)
            if rejected not in seen:
                break
        seen.add(rejected)
        rows.append(
            {
                "prompt": prompt,
                "chosen": " " + chosen,
                "rejected": " " + rejected,
                "topic": question.topic,
                "question_id": question.question_id,
                "rejected_kind": kind,
            }
        )
    return rows


@lru_cache(maxsize=4)
def _generate(seed: int) -> tuple[tuple[tuple[str, str], ...], ...]:
    rng = random.Random(seed)
    questions = all_questions()
    rows: list[dict[str, str]] = []
    for question in questions:
        others = [q for q in questions if q.topic != question.topic]
        for p, phrasing in enumerate(question.phrasings):
            opening = None
            if rng.random() < OPENING_TURN_PROBABILITY:
                human, assistant = rng.choice(OPENING_TURNS)
                opening = (human.format(about=question.about), assistant)
            prompt = format_prompt(phrasing, opening)
            rows.extend(_rows_for_prompt(rng, question, prompt, p, others))
    rng.shuffle(rows)
    return tuple(tuple(row.items()) for row in rows)


def embedded_rows(seed: int = 0) -> list[dict[str, str]]:
    """The embedded default dataset: rm-static rows generated from the templates, shuffled.

    Args:
        seed: seeds phrasing choices, rejected answers and the row order; the same seed gives
            the same rows on every machine.

    Returns:
        Fresh dicts (safe to modify) with ``prompt``, ``chosen``, ``rejected``, ``topic``,
        ``question_id`` and ``rejected_kind``; about 3,900 rows.
    """
    return [dict(row) for row in _generate(seed)]
