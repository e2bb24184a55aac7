"""A thin TensorBoard logger: update functions return ``dict[str, float]``, this writes them."""

from __future__ import annotations

import math
from pathlib import Path


class MetricsLogger:
    """Writes scalar dicts to TensorBoard under ``log_dir`` (a no-op when ``log_dir`` is None).

    Args:
        log_dir: the event-file folder.
        purge_step: on resume, events at or after this step from the stopped run are
            discarded so curves do not double back.
    """

    def __init__(self, log_dir: str | Path | None, purge_step: int | None = None) -> None:
        self.writer = None
        if log_dir is not None:
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
