"""`rlhf-gym label` as a process: it binds only with the rules, and a kill loses no label."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from rlhf_gym.cli import main
from rlhf_gym.label.queue import append_pairs
from rlhf_gym.label.sources import text_entries
from rlhf_gym.label.store import LABELS_FILE
from tests.rlhf_gym.conftest import read_jsonl, text_triples

ROOT = Path(__file__).resolve().parents[2]


def test_binding_beyond_loopback_without_a_token_is_one_line_error(tmp_path, capsys):
    assert main(["label", str(tmp_path), "--host", "0.0.0.0"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--token" in error
    assert main(["label", str(tmp_path), "--segments", "missing.npz"]) == 2
    assert "missing.npz" in capsys.readouterr().err


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "rlhf_gym", "label", str(folder), "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    line = process.stdout.readline()
    found = re.search(r"http://[\d.]+:\d+", line)
    assert found, line
    return process, found.group(0)


def test_a_server_killed_mid_request_keeps_every_confirmed_label(tmp_path):
    folder = tmp_path / "labels"
    append_pairs(folder, text_entries(text_triples(400), "t-", seed=0))
    process, url = start_server(folder)
    confirmed: list[str] = []
    pairs = [e["pair"] for e in read_jsonl(folder / "pairs.jsonl")]

    def labeller(name: str) -> None:
        with httpx.Client(base_url=url, timeout=5) as http:
            for pair in pairs:
                body = json.dumps({"pair": pair, "labeller": name, "choice": "left"})
                try:
                    answer = http.post(
                        "/api/label", content=body, headers={"Content-Type": "application/json"}
                    )
                except httpx.HTTPError:
                    return  # the server is gone
                if answer.status_code == 200:
                    confirmed.append(f"{name}:{pair}")

    threads = [threading.Thread(target=labeller, args=(n,)) for n in ("ann", "bob")]
    for thread in threads:
        thread.start()
    while len(confirmed) < 40:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    for thread in threads:
        thread.join(timeout=10)
    process.stdout.close()
    text = (folder / LABELS_FILE).read_text()
    rows = [json.loads(line) for line in text.splitlines()]  # every line whole JSON
    stored = {f"{row['labeller']}:{row['pair']}" for row in rows}
    assert set(confirmed) <= stored
    assert len(stored) == len(rows)  # nothing stored twice
    assert len(confirmed) < 2 * len(pairs)  # the kill came mid-run
