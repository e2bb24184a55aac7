"""The label store: every decision one appended, fsynced JSONL line, in the trainers' format.

A labelling folder holds the queue (``pairs.jsonl``, :mod:`rlhf_gym.label.queue`) and what
the app writes beside it:

- ``labels.jsonl``: one line per label that trains (arm ``left|right|equal``, text
  ``left|right``), read by ``arm prefs`` (``prefs.human_labels``) and ``text rm``
  (``data.source``) as they are;
- ``skips.jsonl``: one line per decision that trains nothing (a skip, or a text ``equal``:
  the text reward model's loss has no tie), read by the app for progress and agreement.

A line of ``labels.jsonl`` is in the format its trainer reads, plus bookkeeping keys both
readers ignore (``pair``, ``labeller``, ``choice``, ``time``)::

    {"left": "r00-s0003", "right": "r00-s0017", "choice": "left", "pair": "r00-p0001", ...}
    {"prompt": "...", "chosen": "...", "rejected": "...", "choice": "right", "pair": "t-0004", ...}

Why it loses nothing: a label is confirmed to the browser only after its line is written
with one ``write`` to a file opened for appending and ``fsync``-ed; a line cut short by a
kill mid-write was never confirmed, and the next start drops it (the file is truncated to
its last whole line). Undo removes a line by writing the file anew and renaming it over the
old one (atomic), so a crash leaves either file whole. The same labeller labelling the same
pair again with the same choice is stored once (a retried request); with another choice it
is refused (undo first).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# the file names, the durable append and the folder sync are the core's, shared with the
# loops that read these files while people label
from agents.label_folder import LABELS_FILE, SKIPS_FILE, append_records, fsync_folder

CHOICES = ("left", "right", "equal", "skip")
"""what a labeller may answer"""


class LabelConflict(ValueError):
    """The labeller already labelled this pair differently."""


@dataclass(frozen=True)
class Decision:
    """One labeller's answer about one pair, as stored."""

    pair: str
    labeller: str
    choice: str
    file: str  # LABELS_FILE or SKIPS_FILE
    record: dict[str, Any]


def _read_whole_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of ``path``; a last line cut short by a crash is truncated away."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    records, good_end, start = [], 0, 0
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:
            break  # no newline: an unconfirmed write cut short
        line = data[start:end]
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a torn line (can only be the last one): drop it and what follows
        good_end, start = end + 1, end + 1
    if good_end < len(data):
        with path.open("r+b") as file:
            file.truncate(good_end)
            file.flush()
            os.fsync(file.fileno())
    return records


class LabelStore:
    """Decisions of every labeller in one folder; thread-safe (one lock).

    Args:
        folder: where ``labels.jsonl`` and ``skips.jsonl`` live (created if missing).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self._order: list[Decision] = []  # file order; undo pops a labeller's last
        self._by_key: dict[tuple[str, str], Decision] = {}
        for name in (LABELS_FILE, SKIPS_FILE):
            for record in _read_whole_lines(self.folder / name):
                pair, labeller = record.get("pair"), record.get("labeller")
                if isinstance(pair, str) and isinstance(labeller, str):
                    self._remember(Decision(pair, labeller, record.get("choice", ""), name, record))
        self._order.sort(key=lambda d: d.record.get("time", 0.0))

    def _remember(self, decision: Decision) -> None:
        self._order.append(decision)
        self._by_key[(decision.pair, decision.labeller)] = decision

    # -- writing ---------------------------------------------------------------------------

    def add(self, decision: Decision) -> bool:
        """Appends ``decision``'s line (flushed and fsynced before this returns).

        Returns:
            True if stored, False if the same labeller gave the same choice before.

        Raises:
            LabelConflict: the labeller chose differently for this pair before.
        """
        with self.lock:
            earlier = self._by_key.get((decision.pair, decision.labeller))
            if earlier is not None:
                if earlier.choice == decision.choice:
                    return False
                raise LabelConflict(
                    f"{decision.labeller!r} already labelled pair {decision.pair!r} "
                    f"{earlier.choice!r}; undo it first"
                )
            # one write, fsynced (and the folder too when the file is new) before we confirm
            append_records(self.folder / decision.file, [decision.record])
            self._remember(decision)
            return True

    def undo(self, labeller: str) -> Decision | None:
        """Removes ``labeller``'s latest decision (None if they have none)."""
        with self.lock:
            mine = [i for i, d in enumerate(self._order) if d.labeller == labeller]
            if not mine:
                return None
            decision = self._order.pop(mine[-1])
            del self._by_key[(decision.pair, decision.labeller)]
            self._rewrite(decision.file)
            return decision

    def _rewrite(self, name: str) -> None:
        path, temporary = self.folder / name, self.folder / f".{name}.tmp"
        lines = [
            json.dumps(d.record, ensure_ascii=False) + "\n" for d in self._order if d.file == name
        ]
        with temporary.open("w", encoding="utf-8") as file:
            file.write("".join(lines))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        fsync_folder(self.folder)

    # -- reading ---------------------------------------------------------------------------

    def decided(self, labeller: str) -> set[str]:
        """Pairs ``labeller`` has answered (skips included)."""
        with self.lock:
            return {pair for pair, name in self._by_key if name == labeller}

    def label_counts(self) -> dict[str, int]:
        """Pair -> number of decisions other than skip (the quorum counts these)."""
        counts: dict[str, int] = defaultdict(int)
        with self.lock:
            for decision in self._order:
                if decision.choice != "skip":
                    counts[decision.pair] += 1
        return dict(counts)

    def decisions(self) -> list[Decision]:
        """Every decision in the order given."""
        with self.lock:
            return list(self._order)


def make_decision(
    pair: dict[str, Any], labeller: str, choice: str, now: float | None = None
) -> Decision:
    """The stored form of ``labeller``'s ``choice`` about a queue entry ``pair``.

    Arm pairs keep segment ids (``left``, ``right``); text pairs become ``prompt``,
    ``chosen``, ``rejected``; ``equal`` on a text pair and every ``skip`` go to the skips.
    """
    if choice not in CHOICES:
        raise ValueError(f"choice must be one of {list(CHOICES)}, got {choice!r}")
    base = {"pair": pair["pair"], "labeller": labeller, "choice": choice}
    base["time"] = round(time.time() if now is None else now, 3)
    trains = choice in ("left", "right") or (choice == "equal" and pair["kind"] == "arm")
    if pair["kind"] == "arm":
        record = {"left": pair["left"], "right": pair["right"], **base}
    elif trains:
        chosen, rejected = (
            (pair["left"], pair["right"]) if choice == "left" else (pair["right"], pair["left"])
        )
        record = {"prompt": pair["prompt"], "chosen": chosen, "rejected": rejected, **base}
    else:
        record = dict(base)
    return Decision(pair["pair"], labeller, choice, LABELS_FILE if trains else SKIPS_FILE, record)


def agreement(decisions: list[Decision]) -> dict[str, float]:
    """How often two labellers of the same pair agree (skips left out).

    Returns:
        ``pairs``: pairs with two or more labellers; ``agreement``: the share of labeller
        pairs on those that gave the same choice (NaN with none).
    """
    by_pair: dict[str, list[str]] = defaultdict(list)
    for decision in decisions:
        if decision.choice != "skip":
            by_pair[decision.pair].append(decision.choice)
    same = total = shared = 0
    for choices in by_pair.values():
        if len(choices) < 2:
            continue
        shared += 1
        for i in range(len(choices)):
            for j in range(i + 1, len(choices)):
                total += 1
                same += choices[i] == choices[j]
    return {"pairs": float(shared), "agreement": same / total if total else float("nan")}
