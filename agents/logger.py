"""A thin TensorBoard logger: update functions return ``dict[str, float]``, this writes them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TextIO

from agents import ranks

METRICS_NAME = "metrics.jsonl"
"""One JSON line of metrics per iteration, for plots and reports that do not read TensorBoard."""


class MetricsLogger:
    """Writes scalar dicts to TensorBoard under ``log_dir`` (a no-op when ``log_dir`` is None,
    and on every rank but 0 of a multi-process run, whose ranks log the same numbers).

    Args:
        log_dir: the event-file folder.
        purge_step: on resume, events at or after this step from the stopped run are
            discarded so curves do not double back.
    """

    def __init__(self, log_dir: str | Path | None, purge_step: int | None = None) -> None:
        self.writer = None
        if log_dir is not None and ranks.rank() == 0:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(log_dir), purge_step=purge_step)

    def log(self, metrics: dict[str, float], step: int) -> None:
        if self.writer is None:
            return
        for key, value in metrics.items():
            if value is not None and not math.isnan(value):
                self.writer.add_scalar(key, value, step)

    def text(self, tag: str, markdown: str, step: int) -> None:
        if self.writer is not None:
            self.writer.add_text(tag, markdown, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def open_metrics_file(run_dir: str | Path, iteration: int) -> TextIO:
    """``run_dir/metrics.jsonl`` opened for appending, cut back to ``iteration`` on resume.

    Rows a stopped run wrote after its last checkpoint are dropped: the resumed run writes
    them again, so the file always matches the checkpoint. Rows need an ``iteration`` key.
    """
    path = Path(run_dir) / METRICS_NAME
    kept = []
    if iteration and path.exists():
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        kept = [row for row in rows if row["iteration"] <= iteration]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in kept))
    return path.open("a")


def write_metrics_row(file: TextIO, row: dict[str, float]) -> None:
    """Appends one row and flushes it (a crash loses nothing already written)."""
    file.write(json.dumps(row) + "\n")
    file.flush()


def read_metrics(run_dir: str | Path) -> list[dict[str, float]]:
    """The metrics of every iteration of a run folder (arm or text), oldest first.

    Each row has ``iteration`` and the keys logged to TensorBoard (``loss/policy``,
    ``rollout/final_is_success``, ``objective/score``, ...); keys a given iteration did not
    produce (no episode ended) are missing from its row.
    """
    path = Path(run_dir) / METRICS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no {METRICS_NAME} in {run_dir}: not a training run folder")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
