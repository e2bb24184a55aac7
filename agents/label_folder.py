"""The labelling folder's files, as every writer and reader of them sees them.

A labelling folder is where a training loop and the people labelling meet (DESIGN.md, "Human
feedback, one path for both worlds"): the loop appends pairs to ``pairs.jsonl``, the
labelling app (``rlhf-gym label``) appends each decision to ``labels.jsonl`` (it trains) or
``skips.jsonl`` (it does not), and the loop waits until enough are in. Both worlds' loops and
the app read and write the same files, so the file names, the JSONL reader, the durable
append and the wait live here once. Only the standard library is used: nothing here knows
whether a pair holds two text answers or two arm clips; each line's ``pair`` id is all that
is read.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PAIRS_FILE = "pairs.jsonl"
"""the queue: one pair waiting for people per line, appended by whoever wants labels"""
LABELS_FILE = "labels.jsonl"
"""one line per decision that trains, in its trainer's format plus ``pair`` and ``labeller``"""
SKIPS_FILE = "skips.jsonl"
"""one line per decision that trains nothing (a skip, a text ``equal``)"""


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file, in file order.

    A last line without its newline is a writer mid-append: it is left for the next read
    rather than parsed half-written. Blank lines and lines that are not objects are skipped.

    Args:
        path: the file; a missing one reads as empty (nobody has written yet).

    Returns:
        One dict per complete object line.
    """
    path = Path(path)
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    records = []
    for line in text[: text.rfind("\n") + 1].splitlines():
        if line.strip():
            record = json.loads(line)
            if isinstance(record, dict):
                records.append(record)
    return records


def fsync_folder(folder: str | Path) -> None:
    """Makes a file created or renamed in ``folder`` durable (POSIX; a no-op elsewhere)."""
    # a new name is on disk only once its folder is synced; Windows cannot open a folder
    if os.name == "posix":
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def append_records(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    """Appends one JSON line per record and fsyncs before returning.

    All lines go out in one ``write`` to a file opened for appending, so a reader (or a kill)
    sees them whole or not at all, never another writer's line inside them. The file and its
    folder are created if missing.

    Args:
        path: the JSONL file.
        records: JSON-serialisable objects (non-ASCII text is kept as it is).
    """
    path = Path(path)
    data = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        remaining = data.encode("utf-8")
        while remaining:  # a regular file takes it all at once; loop in case it does not
            remaining = remaining[os.write(fd, remaining) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_folder(path.parent)


@dataclass(frozen=True)
class Tally:
    """The decisions so far about a round's pairs.

    Attributes:
        labels: pair -> its ``labels.jsonl`` records, in file order (pairs without one absent).
        skips: pair -> how many ``skips.jsonl`` records it has (pairs without one absent).
        settled: how many of the round's pairs have reached the quorum of decisions.
        total: how many pairs the round has.
    """

    labels: dict[str, list[dict[str, Any]]]
    skips: dict[str, int]
    settled: int
    total: int

    @property
    def labelled(self) -> int:
        """Pairs with at least one label."""
        return len(self.labels)

    @property
    def done(self) -> bool:
        """Every pair is settled."""
        return self.settled == self.total


def count_decisions(folder: str | Path, pair_ids: list[str], quorum: int = 1) -> Tally:
    """Reads the folder's labels and skips about ``pair_ids`` (other pairs are ignored).

    Args:
        folder: the labelling folder.
        pair_ids: the round's pairs.
        quorum: decisions (labels and skips alike: a skip is a person's answer too) that
            settle a pair.

    Returns:
        The :class:`Tally`.
    """
    folder, wanted = Path(folder), set(pair_ids)
    labels: dict[str, list[dict[str, Any]]] = {}
    skips: dict[str, int] = {}
    for record in read_records(folder / LABELS_FILE):
        if record.get("pair") in wanted:
            labels.setdefault(record["pair"], []).append(record)
    for record in read_records(folder / SKIPS_FILE):
        if record.get("pair") in wanted:
            skips[record["pair"]] = skips.get(record["pair"], 0) + 1
    settled = sum(len(labels.get(pair, ())) + skips.get(pair, 0) >= quorum for pair in pair_ids)
    return Tally(labels, skips, settled, len(pair_ids))


def wait_until_settled(
    folder: str | Path,
    pair_ids: list[str],
    quorum: int = 1,
    timeout_s: float | None = None,
    min_labelled: int = 0,
    poll_s: float = 1.0,
    should_stop: Callable[[], bool] | None = None,
) -> Tally:
    """Polls the folder until every pair is settled, or ``timeout_s`` has passed with at
    least ``min_labelled`` pairs labelled.

    The timeout never ends a wait below ``min_labelled``: a reward model cannot fit on no
    labels, so a loop that needs one waits on for it however late it is. Progress is printed
    each time the settled count changes, so a quiet terminal means nobody is labelling.

    Args:
        folder: the labelling folder.
        pair_ids: the round's pairs.
        quorum: decisions (labels or skips) that settle a pair.
        timeout_s: seconds after which what is labelled is enough (None: wait for all).
        min_labelled: labelled pairs the timeout still waits for.
        poll_s: seconds between reads of the files.
        should_stop: polled between reads; True stops the wait as Ctrl-C would.

    Returns:
        The last :class:`Tally`.

    Raises:
        KeyboardInterrupt: ``should_stop`` returned True (the caller's stop path is Ctrl-C's).
    """
    start, reported = time.monotonic(), -1
    while True:
        tally = count_decisions(folder, pair_ids, quorum)
        late = timeout_s is not None and time.monotonic() - start >= timeout_s
        if tally.done or (late and tally.labelled >= min_labelled):
            return tally
        if tally.settled != reported:
            print(
                f"waiting for labels in {folder}: {tally.settled}/{tally.total} pairs settled",
                flush=True,
            )
            reported = tally.settled
        if should_stop is not None and should_stop():
            raise KeyboardInterrupt
        time.sleep(poll_s)
