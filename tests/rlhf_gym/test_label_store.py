"""The label store: appended fsynced lines, stored once, undo, and torn lines repaired."""

from __future__ import annotations

import json

import pytest

from rlhf_gym.label.store import (
    LABELS_FILE,
    SKIPS_FILE,
    LabelConflict,
    LabelStore,
    agreement,
    make_decision,
)
from tests.rlhf_gym.conftest import read_jsonl

TEXT = {"pair": "t-1", "kind": "text", "prompt": "Q?", "left": " yes", "right": " no"}
ARM = {"pair": "a-1", "kind": "arm", "segments": "s.npz", "left": "s1", "right": "s2"}


def test_text_labels_are_rows_text_rm_reads(tmp_path):
    store = LabelStore(tmp_path)
    assert store.add(make_decision(TEXT, "ann", "right", now=1.0))
    (row,) = read_jsonl(tmp_path / LABELS_FILE)
    assert (row["prompt"], row["chosen"], row["rejected"]) == ("Q?", " no", " yes")
    assert (row["pair"], row["labeller"], row["choice"]) == ("t-1", "ann", "right")


def test_equal_and_skip_train_nothing_for_text_but_equal_trains_the_arm(tmp_path):
    store = LabelStore(tmp_path)
    store.add(make_decision(TEXT, "ann", "equal"))
    store.add(make_decision(ARM, "ann", "equal"))
    store.add(make_decision({**ARM, "pair": "a-2"}, "ann", "skip"))
    assert [r["pair"] for r in read_jsonl(tmp_path / LABELS_FILE)] == ["a-1"]
    assert [r["pair"] for r in read_jsonl(tmp_path / SKIPS_FILE)] == ["t-1", "a-2"]
    assert store.label_counts() == {"t-1": 1, "a-1": 1}


def test_a_resubmitted_label_is_stored_once_and_a_changed_one_refused(tmp_path):
    store = LabelStore(tmp_path)
    assert store.add(make_decision(TEXT, "ann", "left"))
    assert not store.add(make_decision(TEXT, "ann", "left"))
    with pytest.raises(LabelConflict, match="undo it first"):
        store.add(make_decision(TEXT, "ann", "right"))
    assert store.add(make_decision(TEXT, "bob", "right"))  # another labeller: a second label
    assert len(read_jsonl(tmp_path / LABELS_FILE)) == 2
    assert len(LabelStore(tmp_path).decisions()) == 2  # and so after a restart


def test_undo_removes_the_labellers_latest_decision_only(tmp_path):
    store = LabelStore(tmp_path)
    store.add(make_decision(TEXT, "ann", "left", now=1.0))
    store.add(make_decision(ARM, "bob", "right", now=2.0))
    store.add(make_decision({**ARM, "pair": "a-2"}, "ann", "skip", now=3.0))
    assert store.undo("ann").pair == "a-2"
    assert store.undo("ann").pair == "t-1"
    assert store.undo("ann") is None
    assert [r["labeller"] for r in read_jsonl(tmp_path / LABELS_FILE)] == ["bob"]
    assert read_jsonl(tmp_path / SKIPS_FILE) == []
    assert store.add(make_decision(TEXT, "ann", "right"))  # undone: may label it anew


def test_a_line_torn_by_a_kill_is_dropped_on_restart(tmp_path):
    store = LabelStore(tmp_path)
    store.add(make_decision(TEXT, "ann", "left"))
    whole = (tmp_path / LABELS_FILE).read_bytes()
    line = json.dumps(make_decision({**TEXT, "pair": "t-2"}, "ann", "left").record)
    (tmp_path / LABELS_FILE).write_bytes(whole + line[:25].encode())  # cut mid-write
    reopened = LabelStore(tmp_path)
    assert [d.pair for d in reopened.decisions()] == ["t-1"]
    assert (tmp_path / LABELS_FILE).read_bytes() == whole
    reopened.add(make_decision({**TEXT, "pair": "t-2"}, "ann", "left"))
    assert [r["pair"] for r in read_jsonl(tmp_path / LABELS_FILE)] == ["t-1", "t-2"]


def test_agreement_counts_pairs_with_two_labellers():
    decisions = [
        make_decision(TEXT, "ann", "left"),
        make_decision(TEXT, "bob", "left"),
        make_decision(TEXT, "cid", "right"),
        make_decision(ARM, "ann", "left"),  # one labeller: not counted
        make_decision({**ARM, "pair": "a-2"}, "bob", "skip"),
    ]
    result = agreement(decisions)
    assert result["pairs"] == 1.0
    assert result["agreement"] == pytest.approx(1 / 3)  # ann-bob agree; ann-cid, bob-cid not
