"""benchmarks/sampling_speed.py: it runs and prints one full table row per vocab and batch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "sampling_speed.py"


def test_the_sampling_benchmark_prints_its_table() -> None:
    command = [
        sys.executable, str(SCRIPT), "--vocab", "16", "300", "--batch-sizes", "2",
        "--calls", "2", "--repeats", "1",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "x |" in line]
    assert [row.split("|")[1].strip() for row in rows] == ["16", "300"], done.stdout
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] == "2" and float(cells[2]) > 0 and float(cells[3]) > 0
    bad = subprocess.run([*command[:2], "--calls", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "must be >= 1" in bad.stderr.splitlines()[-1]
