"""The reward model's accuracy on the human labels so far, for the statistics page.

Two sources, both shown: ``rm_accuracy.json`` in the labelling folder, written by whoever
trains on the labels (the arm loop's human oracle after every fit, :func:`write_accuracy`),
and, when the app is given a reward model, its own score of every strict label now (arm: a
round's ``reward_fn.npz``; text: a reward-model directory from ``text rm``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_gym.label.clips import ClipLibrary
from rlhf_gym.label.store import LABELS_FILE, Decision

ACCURACY_FILE = "rm_accuracy.json"


def write_accuracy(folder: str | Path, source: str, labels: int, accuracy: float) -> Path:
    """Records a trainer's accuracy on the folder's human labels (atomic replace)."""
    path = Path(folder) / ACCURACY_FILE
    temporary = path.with_suffix(".tmp")
    record = {"source": source, "labels": labels, "accuracy": accuracy, "time": time.time()}
    temporary.write_text(json.dumps(record), encoding="utf-8")
    os.replace(temporary, path)
    return path


class AccuracyBoard:
    """Scores of a reward model on the strict labels (left/right), recomputed when they change.

    Args:
        folder: the labelling folder.
        reward_model: a ``reward_fn.npz`` (arm) or a reward-model directory (text); None:
            only what trainers wrote to ``rm_accuracy.json``.
        clips: the folder's segment files (arm labels name segments).
    """

    def __init__(self, folder: Path, reward_model: str | None, clips: ClipLibrary) -> None:
        self.folder, self.reward_model, self.clips = folder, reward_model, clips
        self._lock = threading.Lock()
        self._cache: tuple[int, dict[str, Any]] | None = None
        self._scorer: Any = None

    def report(self, decisions: list[Decision]) -> dict[str, Any]:
        """``trainer``: the last ``rm_accuracy.json``; ``live``: this app's own scoring."""
        result: dict[str, Any] = {}
        path = self.folder / ACCURACY_FILE
        if path.is_file():
            result["trainer"] = json.loads(path.read_text(encoding="utf-8"))
        if self.reward_model is not None:
            strict = [d for d in decisions if d.file == LABELS_FILE and d.choice != "equal"]
            with self._lock:
                if self._cache is None or self._cache[0] != len(strict):
                    self._cache = (len(strict), self._score(strict))
                result["live"] = self._cache[1]
        return result

    def _score(self, strict: list[Decision]) -> dict[str, Any]:
        if not strict:
            return {"source": self.reward_model, "labels": 0, "accuracy": None}
        if "prompt" in strict[0].record:
            correct = self._text_correct([d.record for d in strict])
        else:
            correct = self._arm_correct(strict)
        return {
            "source": self.reward_model,
            "labels": len(correct),
            "accuracy": float(np.mean(correct)) if len(correct) else None,
        }

    def _arm_correct(self, strict: list[Decision]) -> list[bool]:
        from rlhf_arm.prefs.state import load_numpy_reward
        from rlhf_gym.label.queue import PAIRS_FILE, read_pairs

        reward = load_numpy_reward(self.reward_model)
        segments = {e["pair"]: e.get("segments") for e in read_pairs(self.folder / PAIRS_FILE)}
        correct = []
        for decision in strict:
            name = segments.get(decision.pair)
            if name is None:
                continue
            pool, rows = self.clips.pool(name)
            left, right = rows[decision.record["left"]], rows[decision.record["right"]]
            returns = reward.batch(pool.observations[[left, right]], pool.actions[[left, right]])
            left_wins = returns[0].sum() > returns[1].sum()
            correct.append(bool(left_wins == (decision.choice == "left")))
        return correct

    def _text_correct(self, records: list[dict[str, Any]]) -> list[bool]:
        if self._scorer is None:  # loaded once: the page asks every few seconds
            from envs.rewards.reward_model import RewardModelScorer

            self._scorer = RewardModelScorer(self.reward_model, None)
        scorer = self._scorer
        prompts = [r["prompt"] for r in records]
        chosen = scorer.score(prompts, [r["chosen"] for r in records])
        rejected = scorer.score(prompts, [r["rejected"] for r in records])
        return [bool(c > r) for c, r in zip(chosen, rejected, strict=True)]
