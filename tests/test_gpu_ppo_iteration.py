"""benchmarks/gpu_ppo_iteration.py: its CPU smoke path runs and prints a full table row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_ppo_iteration.py"


def test_the_gpu_benchmark_runs_on_the_cpu_with_a_tiny_model() -> None:
    command = [
        sys.executable, str(SCRIPT), "--device", "cpu", "--tiny", "--iterations", "1",
        "--batch-size", "2", "--prompt-len", "32", "--new-tokens", "4",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| tiny-gpt2 ")]
    assert len(rows) == 1, done.stdout
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    seconds, tokens_per_second, peak = map(float, cells[3:6])
    assert cells[1:3] == ["2", "4"] and seconds > 0 and tokens_per_second > 0 and peak > 0
