"""Preference data for the three text steps: SFT on chosen, a pairwise reward model, PPO.

Rows follow the Dahoas/rm-static schema: ``prompt`` is the dialogue so far, ending in an open
Assistant turn (``"\\n\\nHuman: How do I bake bread?\\n\\nAssistant:"``), and ``chosen`` and
``rejected`` are two continuations (``" You need flour, ..."``), so ``prompt + chosen`` is the
whole chosen dialogue. Other fields (rm-static's ``response``, which repeats ``chosen``) are
ignored. Anthropic/hh-rlhf's whole-dialogue rows are converted to this schema first
(:attr:`DataConfig.schema`, :mod:`rlhf_text.data_schemas`), from every kind of source.

Sources (:attr:`DataConfig.source`):

| source         | rows                                                 | eval rows            |
|----------------|------------------------------------------------------|----------------------|
| ``"embedded"`` | :func:`rlhf_text.default_data.embedded_rows` (seed)  | carved, by question  |
| ``*.jsonl``    | one JSON object per line                             | carved, by prompt    |
| ``*.json``     | a list of objects, or ``{"train": [...], ...}``      | named key, or carved |
| ``*.parquet``  | one row per record (pyarrow)                         | carved, by prompt    |
| anything else  | hub: ``datasets.load_dataset(source, split=split)``  | named, or carved     |

(:mod:`rlhf_text.data_sources` reads them; this module checks and splits the rows.)

A row is bad when it is not a mapping, lacks one of the three fields, has one that is not a
string or is blank, or has ``chosen == rejected`` (after stripping whitespace); an
``hh_dialogue`` row also when it has no Assistant turn or its two dialogues differ before
the last one. Bad rows are never dropped silently: with ``on_bad_rows="error"`` one
``ValueError`` lists them (split, row number from 1 (for JSON Lines, the line number),
reason); with ``"skip"`` they are dropped, logged and kept in :attr:`DataReport.bad_rows`.

With ``chat_template`` set, every prompt is re-rendered in that tokenizer's chat format
(:mod:`rlhf_text.chat`), for instruction-tuned models such as SmolLM2-135M-Instruct.

Without an eval split, :func:`load_preference_data` holds out a seeded ``eval_fraction`` of the
prompts (of the questions, per topic, for the embedded data, so paraphrases stay together):
every row of a held-out prompt goes to eval, so eval prompts are never train prompts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from rlhf_text.data_schemas import TEXT_FIELDS as TEXT_FIELDS  # re-exported
from rlhf_text.data_schemas import (
    Schema,
    check_schema_name,
    resolve_schema,
    to_prompt_chosen_rejected,
)
from rlhf_text.data_schemas import row_problems as row_problems  # re-exported
from rlhf_text.data_sources import LOCAL_SUFFIXES as LOCAL_SUFFIXES  # re-exported
from rlhf_text.data_sources import read_source
from rlhf_text.data_split import carve_eval, train_part
from rlhf_text.data_split import held_out_groups as held_out_groups  # re-exported

logger = logging.getLogger(__name__)

MAX_LISTED_BAD_ROWS = 20
"""How many bad rows the error message lists before "... and N more"."""


@dataclass
class DataConfig:
    """Where the preference rows come from and how they are split and checked."""

    source: str = "embedded"
    """``"embedded"`` (the built-in dataset), a local ``.jsonl``/``.json``/``.parquet`` file, or
    a Hugging Face hub dataset name such as ``"Dahoas/rm-static"``"""
    split: str = "train"
    """the training split of a hub dataset or of a ``{"train": [...], ...}`` JSON file"""
    eval_split: str | None = None
    """the eval split of a hub dataset or split-keyed JSON file (``"test"`` for rm-static);
    None carves ``eval_fraction`` out of the training rows instead"""
    eval_fraction: float = 0.1
    """share of prompts held out for eval when ``eval_split`` is None (0 for no eval rows)"""
    on_bad_rows: Literal["error", "skip"] = "error"
    """'error' raises one ValueError listing every bad row; 'skip' drops and reports them"""
    max_rows: int | None = None
    """read at most this many rows of each split (the first ones), None for all"""
    seed: int = 0
    """seeds the held-out carve and the embedded data"""
    chat_template: str | None = None
    """a tokenizer (hub name or local directory) whose chat template formats every row for
    all three steps (see :mod:`rlhf_text.chat`); None keeps the Human/Assistant text"""
    train_part: Literal["all", "first_half", "second_half"] = "all"
    """which training rows this step sees: all, or one of two halves with no prompt in
    common (split by question for the embedded data): the reward model on one half and an
    independent judge reward model on the other (``PipelineConfig.judge_rm``)"""
    schema: Schema = "auto"
    """the rows' schema: ``"prompt_chosen_rejected"`` (rm-static), ``"hh_dialogue"``
    (Anthropic/hh-rlhf's whole dialogues), or ``"auto"`` to detect it per source"""

    def __post_init__(self) -> None:
        if not self.source:
            raise ValueError("source must not be empty")
        if self.on_bad_rows not in ("error", "skip"):
            raise ValueError(f"on_bad_rows must be 'error' or 'skip', got {self.on_bad_rows!r}")
        if not 0.0 <= self.eval_fraction < 1.0:
            raise ValueError(f"eval_fraction must be in [0, 1), got {self.eval_fraction}")
        if self.max_rows is not None and self.max_rows < 1:
            raise ValueError(f"max_rows must be >= 1 or None, got {self.max_rows}")
        if self.chat_template is not None and not self.chat_template.strip():
            raise ValueError("chat_template must name a tokenizer or be null, got ''")
        check_schema_name(self.schema)
        if self.train_part not in ("all", "first_half", "second_half"):
            raise ValueError(
                f"train_part must be all, first_half or second_half, got {self.train_part!r}"
            )


@dataclass(frozen=True)
class PreferencePair:
    """One comparison: two continuations of the same prompt, the first preferred."""

    prompt: str
    """the dialogue so far, ending in ``"\\n\\nAssistant:"``"""
    chosen: str
    """the preferred continuation"""
    rejected: str
    """the other continuation"""

    @property
    def chosen_text(self) -> str:
        """The whole chosen dialogue, ``prompt + chosen`` (what SFT trains on)."""
        return self.prompt + self.chosen

    @property
    def rejected_text(self) -> str:
        """The whole rejected dialogue, ``prompt + rejected``."""
        return self.prompt + self.rejected


@dataclass(frozen=True)
class BadRow:
    """A row that failed validation."""

    split: str
    row: int
    """1-based row number in its split (the line number for JSON Lines)"""
    reason: str

    def __str__(self) -> str:
        return f"{self.split} row {self.row}: {self.reason}"


@dataclass
class DataReport:
    """What loading did: counts for logs and metrics, and every skipped row with its reason."""

    source: str
    schema: str = ""
    """the schema the rows were read in (detected for ``schema="auto"``)"""
    loaded: int = 0
    """rows read (after ``max_rows``), good and bad, over all splits"""
    capped: int = 0
    """rows left unread because of ``max_rows``"""
    bad_rows: list[BadRow] = field(default_factory=list)
    """rows dropped with ``on_bad_rows="skip"``"""
    train_rows: int = 0
    eval_rows: int = 0
    train_prompts: int = 0
    """distinct training prompts"""
    eval_prompts: int = 0
    """distinct eval prompts"""
    shared_prompts: int = 0
    """prompts in both splits (0 for a carved split; a named eval split may share some)"""
    truncated: int = 0
    """examples cut by :func:`fit_to_length`; the tokenizing step adds to it"""

    @property
    def skipped(self) -> int:
        """Number of bad rows dropped."""
        return len(self.bad_rows)

    def metrics(self) -> dict[str, float]:
        """The counts under ``data/`` keys, for the metrics logger."""
        names = ("loaded", "capped", "skipped", "train_rows", "eval_rows", "train_prompts")
        names += ("eval_prompts", "shared_prompts", "truncated")
        return {f"data/{name}": float(getattr(self, name)) for name in names}

    def summary(self) -> str:
        """One line for the log."""
        return (
            f"{self.source} ({self.schema}): {self.loaded} rows read, {self.skipped} bad rows "
            f"skipped, {self.capped} beyond max_rows; train {self.train_rows} rows / "
            f"{self.train_prompts} prompts, eval {self.eval_rows} rows / {self.eval_prompts} "
            f"prompts"
        )


@dataclass
class PreferenceData:
    """Training and held-out comparisons, and the report of how they were loaded."""

    train: list[PreferencePair]
    eval: list[PreferencePair]
    report: DataReport
    source_prompts: dict[str, str] = field(default_factory=dict)
    """each prompt as ``chat_template`` rendered it -> the row's own prompt (empty without a
    chat template); reports show the latter"""


class FittedIds(NamedTuple):
    """A prompt + response fitted to a length budget by :func:`fit_to_length`."""

    ids: list[int]
    """the kept prompt tokens followed by the kept response tokens"""
    prompt_length: int
    """how many of ``ids`` are prompt tokens"""
    truncated: bool
    """whether anything was cut"""


def fit_to_length(
    prompt_ids: Sequence[int], response_ids: Sequence[int], max_prompt_len: int, max_len: int
) -> FittedIds:
    """Fit one example into ``max_len`` tokens; the single truncation rule of the text steps.

    The prompt is cut from the left (keeping its end, the most recent turns) to at most
    ``max_prompt_len`` tokens, then the response is cut from the right so the whole fits
    ``max_len``. A response therefore always has at least ``max_len - max_prompt_len`` tokens
    of room; an EOS at its end is lost when it is cut. The caller counts the ``truncated``
    examples (into :attr:`DataReport.truncated`) so that cuts are never silent.

    Args:
        prompt_ids: token ids of the prompt (a list or tuple; call ``.tolist()`` on tensors).
        response_ids: token ids of the response (may be empty: a PPO prompt alone).
        max_prompt_len: most prompt tokens kept, >= 1.
        max_len: most tokens in all, >= ``max_prompt_len``.

    Returns:
        ``FittedIds(ids, prompt_length, truncated)`` with ``len(ids) <= max_len``.

    Raises:
        ValueError: if not ``1 <= max_prompt_len <= max_len``.
    """
    if not 1 <= max_prompt_len <= max_len:
        raise ValueError(
            f"need 1 <= max_prompt_len <= max_len, got max_prompt_len={max_prompt_len}, "
            f"max_len={max_len}"
        )
    prompt = list(prompt_ids[-max_prompt_len:])
    response = list(response_ids[: max_len - len(prompt)])
    truncated = len(prompt) < len(prompt_ids) or len(response) < len(response_ids)
    return FittedIds(prompt + response, len(prompt), truncated)


def prompts(
    data: PreferenceData | Sequence[PreferencePair], split: Literal["train", "eval"] = "train"
) -> list[str]:
    """The distinct prompt texts, in first-seen order (the PPO step's and text env's prompts).

    Args:
        data: loaded data (``split`` picks its train or eval pairs) or a sequence of pairs.
        split: ``"train"`` or ``"eval"``; ignored when ``data`` is a sequence of pairs.
    """
    if isinstance(data, PreferenceData):
        if split not in ("train", "eval"):
            raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
        data = data.train if split == "train" else data.eval
    return list(dict.fromkeys(pair.prompt for pair in data))


def _read_source(config: DataConfig) -> dict[str, list[tuple[int, Any]]]:
    """Numbered raw rows per role: ``"train"``, and ``"eval"`` for a named eval split."""
    names = {"train": config.split}
    if config.eval_split is not None:
        names["eval"] = config.eval_split
    return read_source(config.source, names, config.seed)


def _check_rows(
    config: DataConfig, numbered: dict[str, list[tuple[int, Any]]], report: DataReport
) -> dict[str, list[tuple[PreferencePair, dict[str, Any]]]]:
    """Convert rows from ``report.schema``, validate; raise listing all bad rows, or drop them."""
    kept: dict[str, list[tuple[PreferencePair, dict[str, Any]]]] = {}
    bad: list[BadRow] = []
    for role, rows in numbered.items():
        kept[role] = []
        for number, row in rows:
            if isinstance(row, json.JSONDecodeError):
                problems = [f"not valid JSON ({row.msg})"]
            else:
                row, problems = to_prompt_chosen_rejected(row, report.schema)
            if problems:
                split = config.split if role == "train" else str(config.eval_split)
                bad.append(BadRow(split, number, "; ".join(problems)))
            else:
                pair = PreferencePair(row["prompt"], row["chosen"], row["rejected"])
                kept[role].append((pair, row))
    if bad:
        more = len(bad) - MAX_LISTED_BAD_ROWS
        listed = "".join(f"\n  {b}" for b in bad[:MAX_LISTED_BAD_ROWS])
        listed += f"\n  ... and {more} more" if more > 0 else ""
        if config.on_bad_rows == "error":
            raise ValueError(
                f"{config.source}: {len(bad)} bad rows (on_bad_rows='skip' drops them):{listed}"
            )
        logger.warning("%s: skipped %d bad rows:%s", config.source, len(bad), listed)
    report.bad_rows.extend(bad)
    return kept


def load_preference_data(config: DataConfig) -> PreferenceData:
    """Read, validate and split preference rows as ``config`` says.

    Args:
        config: the source, its schema, splits, bad-row policy, row cap and seed.

    Returns:
        Train and eval :class:`PreferencePair` lists in source order, and a :class:`DataReport`.

    Raises:
        ValueError: bad rows with ``on_bad_rows="error"`` (all listed with row numbers), a
            malformed JSON file, a missing JSON split, or ``eval_split`` for a source without
            named splits, or no valid training row at all.
        FileNotFoundError: a local data file that does not exist.
    """
    report = DataReport(source=config.source)
    numbered = _read_source(config)
    for role, rows in numbered.items():
        if config.max_rows is not None and len(rows) > config.max_rows:
            report.capped += len(rows) - config.max_rows
            numbered[role] = rows[: config.max_rows]
        report.loaded += len(numbered[role])
    every_row = (row for rows in numbered.values() for _, row in rows)
    report.schema = resolve_schema(config.schema, every_row, config.source)
    kept = _check_rows(config, numbered, report)
    if "eval" in kept:
        train_kept, evaluation = kept["train"], [pair for pair, _ in kept["eval"]]
    else:
        train_kept, evaluation = carve_eval(config, kept["train"])
    train = train_part(config, train_kept)
    train_prompts, eval_prompts = set(prompts(train)), set(prompts(evaluation))
    report.train_rows, report.eval_rows = len(train), len(evaluation)
    report.train_prompts, report.eval_prompts = len(train_prompts), len(eval_prompts)
    report.shared_prompts = len(train_prompts & eval_prompts)
    if report.shared_prompts:
        logger.warning("%s: %d eval prompts also in train", config.source, report.shared_prompts)
    if not train:
        raise ValueError(f"{config.source}: no training rows left ({report.summary()})")
    if config.chat_template is not None:
        from rlhf_text.chat import format_pairs, load_chat_tokenizer

        tokenizer = load_chat_tokenizer(config.chat_template)
        rows = train + evaluation
        train, evaluation = format_pairs(train, tokenizer), format_pairs(evaluation, tokenizer)
        formatted = zip(rows, train + evaluation, strict=True)
        source_prompts = {new.prompt: row.prompt for row, new in formatted}
    else:
        source_prompts = {}
    logger.info(report.summary())
    return PreferenceData(train, evaluation, report, source_prompts)
