"""The labelling folder's shared reader, append, quorum count and wait (agents.label_folder).

Every wait polls every 5 ms with timeouts of tens of ms, so the file runs in well under a
second.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from agents.label_folder import (
    LABELS_FILE,
    PAIRS_FILE,
    SKIPS_FILE,
    append_records,
    count_decisions,
    read_records,
    wait_until_settled,
)

POLL_S = 0.005


def label(pair: str, labeller: str = "ann", choice: str = "left") -> dict[str, str]:
    return {"pair": pair, "labeller": labeller, "choice": choice}


def test_reader_leaves_out_a_partial_last_line_and_non_objects(tmp_path: Path) -> None:
    path = tmp_path / PAIRS_FILE
    assert read_records(path) == []  # nobody has written yet
    path.write_text('{"pair": "a"}\n\n[1, 2]\n"text"\n{"pair": "b"}\n{"pair": "c", "le')
    assert read_records(path) == [{"pair": "a"}, {"pair": "b"}]
    with path.open("a") as file:
        file.write('ft": "x"}\n')  # the writer finishes its line
    assert [r["pair"] for r in read_records(path)] == ["a", "b", "c"]


def test_append_writes_whole_fsynced_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    path = tmp_path / "new" / LABELS_FILE  # the folder is created too
    append_records(path, [{"pair": "a", "prompt": "héllo"}, {"pair": "b"}])
    assert len(synced) == 2  # the file, then the folder that now names it
    append_records(path, [{"pair": "c"}])
    assert len(synced) == 3  # an existing file: only itself
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and "héllo" in text  # non-ASCII kept as it is
    assert [json.loads(line)["pair"] for line in text.splitlines()] == ["a", "b", "c"]
    append_records(path, [])
    assert path.read_text(encoding="utf-8") == text


def test_count_decisions_reaches_a_quorum_with_labels_and_skips(tmp_path: Path) -> None:
    append_records(tmp_path / LABELS_FILE, [
        label("p1"), label("p1", "bob", "right"), label("p2"), label("other"),
    ])  # fmt: skip
    append_records(tmp_path / SKIPS_FILE, [label("p3", "ann", "skip"), label("p2", "bob", "skip")])
    tally = count_decisions(tmp_path, ["p1", "p2", "p3", "p4"], quorum=2)
    assert [r["choice"] for r in tally.labels["p1"]] == ["left", "right"]
    assert set(tally.labels) == {"p1", "p2"}  # another round's pair is not counted
    assert tally.skips == {"p3": 1, "p2": 1}
    assert (tally.settled, tally.total, tally.labelled, tally.done) == (2, 4, 2, False)
    assert count_decisions(tmp_path, ["p1", "p2", "p3"], quorum=1).done


def test_wait_returns_when_every_pair_is_settled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    append_records(tmp_path / LABELS_FILE, [label("p1")])
    calls = []

    def someone_labels() -> bool:
        calls.append(1)
        if len(calls) == 3:
            append_records(tmp_path / SKIPS_FILE, [label("p2", choice="skip")])
        return False

    tally = wait_until_settled(tmp_path, ["p1", "p2"], poll_s=POLL_S, should_stop=someone_labels)
    assert tally.done and tally.labelled == 1 and len(calls) == 3
    # progress is printed once per change of the settled count, not once per poll
    assert capsys.readouterr().out.count("1/2 pairs settled") == 1


def test_wait_returns_at_the_timeout_with_enough_labels(tmp_path: Path) -> None:
    append_records(tmp_path / LABELS_FILE, [label("p1")])
    start = time.monotonic()
    tally = wait_until_settled(
        tmp_path, ["p1", "p2"], timeout_s=0.03, min_labelled=1, poll_s=POLL_S
    )
    assert time.monotonic() - start >= 0.03
    assert not tally.done and tally.labelled == 1


def test_wait_outlasts_the_timeout_until_the_first_label(tmp_path: Path) -> None:
    start, calls = time.monotonic(), []

    def label_late() -> bool:
        calls.append(1)
        if time.monotonic() - start > 0.06:  # well past the timeout
            append_records(tmp_path / LABELS_FILE, [label("p1")])
        return False

    tally = wait_until_settled(
        tmp_path, ["p1", "p2"], timeout_s=0.02, min_labelled=1, poll_s=POLL_S,
        should_stop=label_late,
    )  # fmt: skip
    assert time.monotonic() - start > 0.06
    assert tally.labelled == 1 and not tally.done
    # with none required, the same timeout goes on with nothing
    empty = tmp_path / "empty"
    assert wait_until_settled(empty, ["p1"], timeout_s=0.02, poll_s=POLL_S).labelled == 0


def test_should_stop_raises_keyboard_interrupt(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        wait_until_settled(tmp_path, ["p1"], poll_s=POLL_S, should_stop=lambda: True)
