"""`arm prefs` with people as the oracle: each round's pairs wait in the labelling app, the
labels train the reward model and PPO, and a stopped run resumes with the labels kept."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from agents.config import load_config
from rlhf_arm.prefs import PrefsConfig, train_prefs
from rlhf_arm.prefs.human import HumanOracle, majority
from rlhf_arm.prefs.segments import SegmentPool
from rlhf_gym.label.server import create_app
from tests.rlhf_gym.conftest import read_jsonl

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "env.num_envs=2",
    "run.num_steps=100",
    "run.total_timesteps=400",
    "prefs.rounds=2",
    "prefs.label_budget=6",
    "prefs.segment_length=20",
    "prefs.eval_episodes=1",
    "reward_model.epochs=2",
    "prefs.oracle=human",
]


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class ScriptedLabeller(threading.Thread):
    """Labels every pair that appears, through the app's API, by the clips' true returns."""

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.http = TestClient(create_app(folder), base_url="http://127.0.0.1")
        self.folder, self.stop, self.count = folder, threading.Event(), 0

    def run(self) -> None:
        while not self.stop.is_set():
            shown = self.http.get("/api/next", params={"labeller": "ann"}).json()["next"]
            if shown is None:
                self.stop.wait(0.05)
                continue
            entry = next(
                e for e in read_jsonl(self.folder / "pairs.jsonl") if e["pair"] == shown["pair"]
            )
            pool = SegmentPool.load(self.folder / entry["segments"])
            rows = pool.index_of()
            returns = pool.true_returns()
            left, right = returns[rows[entry["left"]]], returns[rows[entry["right"]]]
            body = {
                "pair": shown["pair"],
                "labeller": "ann",
                "choice": "left" if left > right else "right",
            }
            answer = self.http.post(
                "/api/label", content=json.dumps(body), headers={"Content-Type": "application/json"}
            )
            assert answer.status_code == 200, answer.text
            self.count += 1


def test_people_label_each_round_and_a_stopped_run_resumes(tmp_path):
    run_dir, folder = tmp_path / "run", tmp_path / "run" / "label"
    config = load_config(
        PrefsConfig, REPO / "configs" / "arm" / "prefs.yaml", [*TINY, f"run_dir={run_dir}"]
    )
    labeller = ScriptedLabeller(folder)
    labeller.start()
    try:
        first = train_prefs(config, stop_after_rounds=1)
        assert len(first.rounds) == 1 and first.labels_used > 0
        queued = read_jsonl(folder / "pairs.jsonl")
        resumed = train_prefs(config)
    finally:
        labeller.stop.set()
        labeller.join(timeout=10)
    assert len(resumed.rounds) == 2
    pairs = read_jsonl(folder / "pairs.jsonl")
    assert pairs[: len(queued)] == queued  # round 0's pairs are not asked again
    assert {p["pair"][:3] for p in pairs} == {"r00", "r01"}
    labels = read_jsonl(folder / "labels.jsonl")
    assert len(labels) == len(pairs) == resumed.labels_used == labeller.count
    assert (folder / "round_00.npz").is_file() and (folder / "arm_env.json").is_file()
    accuracy = json.loads((folder / "rm_accuracy.json").read_text())
    assert accuracy["labels"] == resumed.labels_used
    assert resumed.rounds[0]["prefs/human_labels_round"] > 0


def test_the_round_goes_on_after_the_timeout_with_what_is_labelled(tmp_path, segments_file):
    pool = SegmentPool.load(segments_file)
    oracle = HumanOracle(tmp_path, {"id": "RLHFGym/ArmReach-v0", "kwargs": {}}, 1, 0.2, 0.05)
    rows = np.arange(len(pool))
    new = oracle.ask(0, pool, rows, np.array([0, 2]), np.array([1, 3]))
    assert len(new) == 0  # nobody labelled
    with (tmp_path / "labels.jsonl").open("a") as file:
        file.write(json.dumps({"pair": "r00-p0001", "labeller": "a", "choice": "right"}) + "\n")
    new = oracle.ask(0, pool, rows, np.array([0, 2]), np.array([1, 3]))  # the same round again
    assert (new.left.tolist(), new.right.tolist(), new.target.tolist()) == ([2], [3], [0.0])
    assert len(read_jsonl(tmp_path / "pairs.jsonl")) == 2


def test_the_majority_of_labellers_decides():
    assert majority(["left", "left", "right"]) == 1.0
    assert majority(["left", "right"]) == 0.5
    assert majority(["equal", "right"]) == 0.0


def test_arm_prefs_serves_the_app_itself_and_goes_on_after_the_timeout(tmp_path, capsys):
    import socket

    import httpx

    from rlhf_gym.cli import main

    with socket.socket() as probe:  # a free port for the run's own app
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run_dir = tmp_path / "run"
    argv = ["arm", "prefs", *TINY, f"run_dir={run_dir}", "prefs.rounds=1"]
    argv += [f"prefs.label_port={port}", "prefs.label_timeout_s=0.2"]

    def label_one() -> None:  # one person labels one pair, then leaves
        for _ in range(600):
            try:
                shown = httpx.get(f"http://127.0.0.1:{port}/api/next?labeller=ann").json()
            except httpx.HTTPError:
                shown = {"next": None}
            if shown["next"]:
                body = {"pair": shown["next"]["pair"], "labeller": "ann", "choice": "left"}
                httpx.post(f"http://127.0.0.1:{port}/api/label", json=body)
                return
            threading.Event().wait(0.05)

    person = threading.Thread(target=label_one, daemon=True)
    person.start()
    assert main(argv) == 0
    person.join(timeout=10)
    out = capsys.readouterr().out
    assert f"labelling app for this run at http://127.0.0.1:{port}/" in out
    assert "from 1 labels" in out  # the first label ended the wait, the timeout passed
    assert len(read_jsonl(run_dir / "label" / "pairs.jsonl")) > 1
