"""Preference labels over segment pairs: a synthetic oracle, and a JSONL file of human labels.

Human label file (JSONL, UTF-8), one JSON object per line, about segments of a
``segments.npz`` (see :mod:`rlhf_arm.prefs.segments`)::

    {"left": "r00-s0003", "right": "r00-s0017", "choice": "left"}
    {"left": "r00-s0005", "right": "r01-s0002", "choice": "equal"}

``choice`` is ``"left"``, ``"right"`` or ``"equal"`` (no preference: the pair trains the
reward model towards equal returns, a target probability of 0.5). Blank lines are skipped;
other keys are ignored (a tool may add e.g. ``"labeller"``). A line that is not a JSON
object, names an unknown segment, names the same segment twice, or has another choice
raises ``ValueError`` naming the file and line number. The loop writes the labels it gets
from the oracle in the same format (``labels.jsonl``), so both sources read alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHOICES = {"left": 1.0, "right": 0.0, "equal": 0.5}
"""choice -> target probability that the left segment is preferred"""


@dataclass
class Preferences:
    """``P`` labelled pairs: rows of a :class:`~rlhf_arm.prefs.segments.SegmentPool`."""

    left: np.ndarray  # (P,) int
    right: np.ndarray  # (P,) int
    target: np.ndarray  # (P,) float: P(left preferred): 1 left, 0 right, 0.5 equal

    @classmethod
    def empty(cls) -> Preferences:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))

    def __len__(self) -> int:
        return len(self.target)

    def subset(self, rows: np.ndarray) -> Preferences:
        return Preferences(self.left[rows], self.right[rows], self.target[rows])

    def __add__(self, other: Preferences) -> Preferences:
        return Preferences(
            np.concatenate([self.left, other.left]),
            np.concatenate([self.right, other.right]),
            np.concatenate([self.target, other.target]),
        )


def oracle_preferences(
    true_returns: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    rng: np.random.Generator,
    label_noise: float = 0.0,
    equal_margin: float = 0.0,
) -> Preferences:
    """A synthetic labeller: prefers the segment with the higher true return.

    Args:
        true_returns: (S,) the env's return of every segment.
        left, right: (P,) the rows to compare.
        rng: draws the label noise.
        label_noise: each strict preference is flipped with this probability (equal labels
            stay equal), a simple model of a careless labeller.
        equal_margin: returns closer than this are labelled ``"equal"``.

    Returns:
        The labelled pairs.
    """
    if not 0.0 <= label_noise <= 1.0:
        raise ValueError(f"label_noise must be in [0, 1], got {label_noise}")
    difference = true_returns[left] - true_returns[right]
    target = np.where(difference > 0, 1.0, 0.0)
    flip = rng.random(len(target)) < label_noise
    target = np.where(flip, 1.0 - target, target)
    target[np.abs(difference) <= equal_margin] = 0.5
    return Preferences(np.asarray(left), np.asarray(right), target)


def read_labels(path: str | Path, segment_ids: list[str]) -> Preferences:
    """Parses a label file (see the module docstring) against the pool's segment ids.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the line, for a malformed line, an unknown or repeated segment id
            or a choice other than left/right/equal; or for a file with no labels.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label file not found: {path}")
    rows = {segment_id: row for row, segment_id in enumerate(segment_ids)}
    left, right, target = [], [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{where}: not valid JSON ({err.msg})") from err
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
        for key in ("left", "right", "choice"):
            if key not in record:
                raise ValueError(f"{where}: missing key {key!r}")
        for key in ("left", "right"):
            if record[key] not in rows:
                raise ValueError(f"{where}: unknown segment id {record[key]!r} ({key})")
        if record["left"] == record["right"]:
            raise ValueError(f"{where}: compares segment {record['left']!r} with itself")
        if record["choice"] not in CHOICES:
            raise ValueError(
                f"{where}: choice must be one of {list(CHOICES)}, got {record['choice']!r}"
            )
        left.append(rows[record["left"]])
        right.append(rows[record["right"]])
        target.append(CHOICES[record["choice"]])
    if not target:
        raise ValueError(f"{path}: no labels")
    return Preferences(np.asarray(left), np.asarray(right), np.asarray(target, dtype=float))


def write_labels(
    path: str | Path,
    preferences: Preferences,
    segment_ids: list[str],
    heldout: np.ndarray | None = None,
) -> Path:
    """Writes ``preferences`` in the label-file format (ids, not rows).

    With ``heldout`` (``[P]`` bool), each line also says ``"heldout": true|false``.
    """
    names = {value: name for name, value in CHOICES.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for row, (i, j, t) in enumerate(
        zip(preferences.left, preferences.right, preferences.target, strict=True)
    ):
        record = {"left": segment_ids[i], "right": segment_ids[j], "choice": names[float(t)]}
        if heldout is not None:
            record["heldout"] = bool(heldout[row])
        lines.append(json.dumps(record))
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
