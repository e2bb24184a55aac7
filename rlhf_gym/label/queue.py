"""The queue of a labelling folder: ``pairs.jsonl``, the pairs waiting for a person.

One JSON object per line, appended by whoever wants labels (``rlhf-gym label`` from a data
set or a segments file, the arm loop's human oracle each round, the text online loop)::

    {"pair": "t-000004", "prompt": "...", "left": "answer A", "right": "answer B"}
    {"pair": "r00-p0001", "segments": "round_00.npz", "left": "r00-s0003", "right": "r00-s0017"}

A line with ``prompt`` is a text pair, one with ``segments`` (a ``segments.npz`` in the
folder, :mod:`rlhf_arm.prefs.segments`) an arm pair of two clips. ``pair`` ids are unique.
The queue is re-read whenever the file changes, so a running app picks up new rounds.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

# the file name and the durable append are the core's, shared with the loops that queue pairs
from agents.label_folder import PAIRS_FILE, append_records
from rlhf_gym.label.store import LabelStore


def _check_entry(entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("pair"), str):
        raise ValueError(f"{where}: expected an object with a string 'pair' id")
    kind = "text" if "prompt" in entry else "arm" if "segments" in entry else None
    if kind is None:
        raise ValueError(f"{where}: a pair needs 'prompt' (text) or 'segments' (arm)")
    keys = ("prompt", "left", "right") if kind == "text" else ("segments", "left", "right")
    for key in keys:
        if not isinstance(entry.get(key), str):
            raise ValueError(f"{where}: {key!r} must be a string")
    if entry["left"] == entry["right"]:
        raise ValueError(f"{where}: pair {entry['pair']!r} compares a thing with itself")
    return {**entry, "kind": kind}


def append_pairs(folder: str | Path, entries: list[dict[str, Any]]) -> Path:
    """Appends queue entries (checked, ids unique against the queue) and fsyncs."""
    path = Path(folder) / PAIRS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    known = {entry["pair"] for entry in read_pairs(path)} if path.is_file() else set()
    for number, entry in enumerate(entries):
        checked = _check_entry(entry, f"pair {number}")
        if checked["pair"] in known:
            raise ValueError(f"pair id {checked['pair']!r} is already in {path}")
        known.add(checked["pair"])
    append_records(path, entries)  # after every check: a bad entry appends nothing
    return path


def read_pairs(path: str | Path) -> list[dict[str, Any]]:
    """The queue's entries in order, each with its ``kind`` (``"text"`` or ``"arm"``).

    A last line without its newline (a writer mid-append) is left for the next read.

    Raises:
        ValueError: naming the line, for a bad entry or a repeated id.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    entries, seen = [], set()
    complete = text[: text.rfind("\n") + 1]
    for number, line in enumerate(complete.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            entry = _check_entry(json.loads(line), where)
        except json.JSONDecodeError as err:
            raise ValueError(f"{where}: not valid JSON ({err.msg})") from err
        if entry["pair"] in seen:
            raise ValueError(f"{where}: pair id {entry['pair']!r} repeats")
        seen.add(entry["pair"])
        entries.append(entry)
    return entries


class PairQueue:
    """The folder's pairs, re-read when ``pairs.jsonl`` changes; which one to show next.

    Args:
        folder: the labelling folder.
        labels_per_pair: a pair is offered until this many labellers have labelled it (two
            or more measure agreement; the arm loop's quorum).
    """

    def __init__(self, folder: str | Path, labels_per_pair: int = 1) -> None:
        if labels_per_pair < 1:
            raise ValueError(f"labels_per_pair must be >= 1, got {labels_per_pair}")
        self.path = Path(folder) / PAIRS_FILE
        self.labels_per_pair = labels_per_pair
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._entries: list[dict[str, Any]] = []
        self._by_id: dict[str, dict[str, Any]] = {}

    def entries(self) -> list[dict[str, Any]]:
        """The current queue (re-read if the file's size or time changed)."""
        with self._lock:
            try:
                status = self.path.stat()
            except FileNotFoundError:
                return []
            stamp = (status.st_mtime_ns, status.st_size)
            if stamp != self._stamp:
                self._entries = read_pairs(self.path)
                self._by_id = {entry["pair"]: entry for entry in self._entries}
                self._stamp = stamp
            return self._entries

    def get(self, pair_id: str) -> dict[str, Any] | None:
        self.entries()
        return self._by_id.get(pair_id)

    def next_for(self, labeller: str, store: LabelStore, after: int = 0) -> dict[str, Any] | None:
        """The ``after``-th (0: first) pair still open to ``labeller``: not answered by them,
        and with fewer than ``labels_per_pair`` labels; None when there is none."""
        mine, counts = store.decided(labeller), store.label_counts()
        for entry in self.entries():
            if entry["pair"] in mine or counts.get(entry["pair"], 0) >= self.labels_per_pair:
                continue
            if after == 0:
                return entry
            after -= 1
        return None

    def progress(self, labeller: str, store: LabelStore) -> dict[str, int]:
        """``total`` pairs, ``complete`` (with enough labels), ``mine`` answered by
        ``labeller`` and ``open`` to them."""
        entries = self.entries()
        mine, counts = store.decided(labeller), store.label_counts()
        complete = sum(counts.get(e["pair"], 0) >= self.labels_per_pair for e in entries)
        open_ = sum(
            e["pair"] not in mine and counts.get(e["pair"], 0) < self.labels_per_pair
            for e in entries
        )
        answered = sum(e["pair"] in mine for e in entries)
        return {"total": len(entries), "complete": complete, "mine": answered, "open": open_}
