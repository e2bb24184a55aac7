"""The two row schemas of preference data, and how every row becomes the first.

| ``data.schema``            | a row                                                           |
|----------------------------|-----------------------------------------------------------------|
| ``prompt_chosen_rejected`` | DeepSpeed-Chat's and Dahoas/rm-static's: ``prompt`` is the      |
|                            | dialogue so far, ending in ``"\\n\\nAssistant:"``; ``chosen``   |
|                            | and ``rejected`` are the two continuations                      |
| ``hh_dialogue``            | Anthropic/hh-rlhf's: only ``chosen`` and ``rejected``, each the |
|                            | whole dialogue, the two the same up to the last Assistant turn  |
| ``auto`` (default)         | per source: ``prompt_chosen_rejected`` when rows have a         |
|                            | ``prompt``, ``hh_dialogue`` when they have ``chosen`` without   |
|                            | one                                                             |

The same comparison in both::

    {"prompt": "\\n\\nHuman: Hi?\\n\\nAssistant:", "chosen": " Hello!", "rejected": " No."}
    {"chosen": "\\n\\nHuman: Hi?\\n\\nAssistant: Hello!",
     "rejected": "\\n\\nHuman: Hi?\\n\\nAssistant: No."}

An ``hh_dialogue`` row is cut just after the last ``"\\n\\nAssistant:"`` of each dialogue:
the shared head is the prompt, the two tails (with their leading space, as rm-static has
them) are the answers. A row whose dialogues differ before that point, or that has no
Assistant turn, is a bad row with that reason.

``auto`` logs one line naming the schema it chose when a source fits both: a ``prompt``
column beside whole dialogues in ``chosen``, or rows with and rows without a ``prompt``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any, Literal

logger = logging.getLogger(__name__)

Schema = Literal["auto", "prompt_chosen_rejected", "hh_dialogue"]
SCHEMAS: tuple[str, ...] = ("auto", "prompt_chosen_rejected", "hh_dialogue")
"""the values of ``data.schema``"""
TEXT_FIELDS = ("prompt", "chosen", "rejected")
ASSISTANT = "\n\nAssistant:"
"""the marker that opens an Assistant turn in Human:/Assistant: dialogues"""


def check_schema_name(schema: str) -> None:
    """Raise a ``ValueError`` naming the choices unless ``schema`` is one of :data:`SCHEMAS`."""
    if schema not in SCHEMAS:
        raise ValueError(f"schema must be one of {', '.join(SCHEMAS)}; got {schema!r}")


def field_problems(row: Any, names: Iterable[str]) -> list[str]:
    """Why the fields ``names`` of ``row`` are not non-blank strings (empty when they are)."""
    if not isinstance(row, dict):
        return [f"not a JSON object (got {type(row).__name__})"]
    problems = []
    for name in names:
        value = row.get(name)
        if name not in row:
            problems.append(f"missing field {name!r}")
        elif not isinstance(value, str):
            problems.append(f"{name!r} is not a string (got {type(value).__name__})")
        elif not value.strip():
            problems.append(f"{name!r} is empty")
    return problems


def row_problems(row: Any) -> list[str]:
    """Why ``row`` is not a valid ``prompt_chosen_rejected`` row (an empty list when it is)."""
    problems = field_problems(row, TEXT_FIELDS)
    if not problems and row["chosen"].strip() == row["rejected"].strip():
        problems.append("chosen == rejected")
    return problems


def split_hh_dialogues(chosen: str, rejected: str) -> tuple[str, str, str]:
    """Cut two whole dialogues into their shared prompt and two final answers.

    Args:
        chosen: the preferred dialogue, ``"\\n\\nHuman: ...\\n\\nAssistant: <answer>"``.
        rejected: the other dialogue, the same as ``chosen`` up to its last Assistant turn.

    Returns:
        ``(prompt, chosen_answer, rejected_answer)``: the prompt ends in ``"\\n\\nAssistant:"``
        and ``prompt + chosen_answer == chosen``.

    Raises:
        ValueError: a dialogue without an Assistant turn, or two dialogues that differ before
            their last one; the message is the reason a bad row is reported with.
    """
    cuts = {"chosen": chosen.rfind(ASSISTANT), "rejected": rejected.rfind(ASSISTANT)}
    missing = [repr(name) for name, cut in cuts.items() if cut < 0]
    if missing:
        raise ValueError(f"no {ASSISTANT!r} turn in {' or '.join(missing)}")
    prompt = chosen[: cuts["chosen"] + len(ASSISTANT)]
    other = rejected[: cuts["rejected"] + len(ASSISTANT)]
    if other != prompt:
        where = len(os.path.commonprefix([prompt, other]))
        raise ValueError(
            f"'chosen' and 'rejected' differ before the last Assistant turn (at character {where})"
        )
    return prompt, chosen[len(prompt) :], rejected[len(prompt) :]


def to_prompt_chosen_rejected(row: Any, schema: str) -> tuple[Any, list[str]]:
    """``row`` in the ``prompt_chosen_rejected`` schema, and why it is a bad row.

    Args:
        row: a raw row of a source read as ``schema``.
        schema: ``"prompt_chosen_rejected"`` or ``"hh_dialogue"`` (not ``"auto"``).

    Returns:
        ``(row, problems)``: an ``hh_dialogue`` row comes back with ``prompt``, ``chosen``
        and ``rejected`` replaced by the prompt and the two final answers (other fields
        kept); ``problems`` is empty for a good row.
    """
    if schema == "prompt_chosen_rejected":
        return row, row_problems(row)
    if schema != "hh_dialogue":
        raise ValueError(f"no conversion from schema {schema!r}")
    problems = field_problems(row, ("chosen", "rejected"))
    if problems:
        return row, problems
    try:
        prompt, chosen, rejected = split_hh_dialogues(row["chosen"], row["rejected"])
    except ValueError as err:
        return row, [str(err)]
    converted = {**row, "prompt": prompt, "chosen": chosen, "rejected": rejected}
    return converted, row_problems(converted)


def detect_schema(rows: Iterable[Any]) -> tuple[str, str]:
    """The schema of one source's raw rows, and why it is ambiguous (empty when it is not).

    A ``prompt`` that is present and not null picks ``prompt_chosen_rejected`` (Parquet and
    hub tables give every row every column, null where a row has none); rows with ``chosen``
    and no ``prompt`` anywhere pick ``hh_dialogue``. Rows of neither kind (not objects, or
    without these fields) count for neither and are reported as bad rows later.
    """
    with_prompt = without_prompt = whole_dialogues = 0
    for row in rows:
        if not isinstance(row, dict):
            continue
        if row.get("prompt") is not None:
            with_prompt += 1
            chosen = row.get("chosen")
            whole_dialogues += isinstance(chosen, str) and ASSISTANT in chosen
        elif "chosen" in row:
            without_prompt += 1
    if not with_prompt:
        return ("hh_dialogue" if without_prompt else "prompt_chosen_rejected"), ""
    notes = []
    if without_prompt:
        notes.append(f"{without_prompt} rows have no 'prompt' and fit hh_dialogue")
    if whole_dialogues:
        notes.append(f"{whole_dialogues} rows hold whole dialogues in 'chosen' beside a 'prompt'")
    return "prompt_chosen_rejected", "; ".join(notes)


def resolve_schema(schema: str, rows: Iterable[Any], source: str) -> str:
    """``schema``, or for ``"auto"`` the detected one, logged in one line when ambiguous.

    Args:
        schema: ``data.schema``, one of :data:`SCHEMAS`.
        rows: every raw row of the source (all its splits), to detect from.
        source: the source's name, for the log line.
    """
    check_schema_name(schema)
    if schema != "auto":
        return schema
    found, ambiguity = detect_schema(rows)
    if ambiguity:
        logger.warning(
            "%s: read as schema %s (%s); set data.schema to choose", source, found, ambiguity
        )
    return found
