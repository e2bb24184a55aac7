"""A person as the preference loop's oracle: each round's pairs go to a labelling folder,
and the loop waits for the labels (``prefs.oracle=human``).

The folder is the labelling app's (``rlhf-gym label FOLDER``, docs/labelling.md); only its
file formats meet here, so the arm world does not import the app:

- the round's new clips: ``round_NN.npz`` (:meth:`SegmentPool.save`), and the env they came
  from, ``arm_env.json``;
- the round's pairs, appended to ``pairs.jsonl``:
  ``{"pair": "r03-p0007", "segments": "round_03.npz", "left": "r03-s0012", "right": ...}``;
- the labels the app appends to ``labels.jsonl`` (:mod:`rlhf_arm.prefs.labels`' format plus
  ``pair`` and ``labeller``) and ``skips.jsonl``;
- after each fit, ``rm_accuracy.json``: the reward model's accuracy on every human label so
  far, which the app's statistics page shows.

A pair is settled when ``quorum`` labellers have labelled or skipped it; the round goes on
when every pair is settled or ``label_timeout_s`` has passed, with each labelled pair's
majority (a tie: ``equal``); pairs nobody labelled are dropped. Before the run has any label
the timeout waits on for the first one (a reward model needs one to fit). Resuming: a round redone
after a stop collects the same clips and pairs (same seeds and RNG state), finds them in the
queue, and keeps the labels already given.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# the folder's file names, reader, append and wait are the core's, shared with the text
# world's online rounds and the app (read_records stays importable from here)
from agents.label_folder import (
    PAIRS_FILE,
    append_records,
    count_decisions,
    read_records,
    wait_until_settled,
)
from rlhf_arm.prefs.labels import CHOICES, Preferences
from rlhf_arm.prefs.segments import SegmentPool

ACCURACY_FILE, ENV_FILE = "rm_accuracy.json", "arm_env.json"


def majority(choices: list[str]) -> float:
    """P(left preferred) of a pair's labels: 1 or 0 by majority, 0.5 for equal or a tie."""
    mean = float(np.mean([CHOICES[c] for c in choices]))
    return 1.0 if mean > 0.5 else 0.0 if mean < 0.5 else 0.5


class HumanOracle:
    """Asks people, through a labelling folder, about each round's pairs.

    Args:
        folder: the labelling folder (created if missing).
        env_spec: ``{"id", "kwargs"}`` of the env, so the app replays the clips on that arm.
        quorum: labellers per pair (labelled or skipped) before it is settled.
        timeout_s: go on after this long per round with what is labelled (None: wait).
        poll_s: how often the label file is read while waiting.
        should_stop: polled while waiting; True raises KeyboardInterrupt (Ctrl-C).
    """

    def __init__(
        self,
        folder: str | Path,
        env_spec: dict[str, Any],
        quorum: int = 1,
        timeout_s: float | None = None,
        poll_s: float = 1.0,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / ENV_FILE).write_text(json.dumps(env_spec, default=str), encoding="utf-8")
        self.quorum, self.timeout_s, self.poll_s = quorum, timeout_s, poll_s
        self.should_stop = should_stop

    def ask(
        self,
        round_index: int,
        pool: SegmentPool,
        new_rows: np.ndarray,
        left: np.ndarray,
        right: np.ndarray,
        need_one: bool = False,
    ) -> Preferences:
        """Queues the pairs ``(left[i], right[i])`` (rows of ``pool``; the round's new clips
        are ``new_rows``), waits for them to settle, and returns the labelled ones
        (``need_one``: at least one, whatever the timeout)."""
        pair_ids = self.queue(round_index, pool, new_rows, left, right)
        labels = self.wait(pair_ids, need_one)
        keep = [i for i, pair in enumerate(pair_ids) if labels.get(pair)]
        target = [majority(labels[pair_ids[i]]) for i in keep]
        return Preferences(
            np.asarray(left)[keep], np.asarray(right)[keep], np.asarray(target, dtype=float)
        )

    def queue(
        self,
        round_index: int,
        pool: SegmentPool,
        new_rows: np.ndarray,
        left: np.ndarray,
        right: np.ndarray,
    ) -> list[str]:
        """Writes the round's clips and appends its pairs (unless a resumed round already
        did); returns the pair ids."""
        name = f"round_{round_index:02d}.npz"
        rows = np.asarray(new_rows)
        clips = SegmentPool(
            [pool.ids[r] for r in rows], pool.observations[rows], pool.actions[rows],
            pool.true_rewards[rows], pool.successes[rows], pool.starts[rows], pool.windows[rows],
        )  # fmt: skip
        temporary = self.folder / f".{name}.tmp.npz"
        clips.save(temporary)
        os.replace(temporary, self.folder / name)  # the app never sees half a file
        entries = [
            {"pair": f"r{round_index:02d}-p{i:04d}", "segments": name,
             "left": pool.ids[a], "right": pool.ids[b]}
            for i, (a, b) in enumerate(zip(left, right, strict=True))
        ]  # fmt: skip
        queued = {e["pair"]: e for e in read_records(self.folder / PAIRS_FILE)}
        missing = []
        for entry in entries:
            known = queued.get(entry["pair"])
            if known is None:
                missing.append(entry)
            elif (known.get("left"), known.get("right")) != (entry["left"], entry["right"]):
                raise ValueError(
                    f"{self.folder / PAIRS_FILE}: pair {entry['pair']} names other clips than "
                    "this run's; use a fresh labelling folder for a fresh run"
                )
        if missing:
            append_records(self.folder / PAIRS_FILE, missing)
        return [entry["pair"] for entry in entries]

    def settled(self, pair_ids: list[str]) -> tuple[dict[str, list[str]], int]:
        """Each pair's label choices so far (pairs without one absent), and how many pairs
        are settled."""
        tally = count_decisions(self.folder, pair_ids, self.quorum)
        return _choices(tally.labels), tally.settled

    def wait(self, pair_ids: list[str], need_one: bool = False) -> dict[str, list[str]]:
        """Polls the label files until every pair is settled or the timeout passes (with
        ``need_one``, and no label yet, until the first label); returns each pair's label
        choices."""
        tally = wait_until_settled(
            self.folder,
            pair_ids,
            self.quorum,
            self.timeout_s,
            min_labelled=1 if need_one else 0,
            poll_s=self.poll_s,
            should_stop=self.should_stop,
        )
        return _choices(tally.labels)

    def report_accuracy(self, source: str, labels: int, accuracy: float) -> None:
        """Writes ``rm_accuracy.json`` (atomically) for the app's statistics page."""
        value = accuracy if np.isfinite(accuracy) else None  # NaN: no strict label yet
        record = {"source": source, "labels": labels, "accuracy": value, "time": time.time()}
        temporary = self.folder / f".{ACCURACY_FILE}.tmp"
        temporary.write_text(json.dumps(record), encoding="utf-8")
        os.replace(temporary, self.folder / ACCURACY_FILE)


def _choices(labels: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    """Pair -> the choices of its label records that the arm's preferences can use."""
    choices = {
        pair: [r["choice"] for r in records if r.get("choice") in CHOICES]
        for pair, records in labels.items()
    }
    return {pair: picked for pair, picked in choices.items() if picked}
