"""The labelling server's API: labelling, undo, progress, 4xx answers and access rules."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from rlhf_arm.prefs.labels import read_labels
from rlhf_arm.prefs.segments import SegmentPool
from rlhf_gym.label.accuracy import write_accuracy
from rlhf_gym.label.queue import append_pairs
from rlhf_gym.label.server import MAX_BODY, check_bind, create_app
from rlhf_gym.label.store import LABELS_FILE, SKIPS_FILE
from rlhf_text.data import DataConfig, load_preference_data
from tests.rlhf_gym.conftest import read_jsonl

LOCAL = "http://127.0.0.1"


def client(folder, **kwargs) -> TestClient:
    return TestClient(create_app(folder, **kwargs), base_url=LOCAL)


def post(http: TestClient, url: str, body) -> object:
    return http.post(url, content=json.dumps(body), headers={"Content-Type": "application/json"})


def label_all(http: TestClient, labeller: str, choices: list[str]) -> list[str]:
    shown = http.get("/api/next", params={"labeller": labeller}).json()["next"]
    pairs = []
    for choice in choices:
        pairs.append(shown["pair"])
        answer = post(
            http, "/api/label", {"pair": shown["pair"], "labeller": labeller, "choice": choice}
        )
        assert answer.status_code == 200, answer.text
        shown = answer.json()["next"]
    return pairs


def test_text_labels_train_text_rm_as_a_data_source(text_folder):
    http = client(text_folder)
    first = http.get("/api/next", params={"labeller": "ann"}).json()
    assert first["progress"] == {"total": 6, "complete": 0, "mine": 0, "open": 6}
    assert set(first["next"]) == {"pair", "kind", "prompt", "left", "right"}
    label_all(http, "ann", ["left", "right", "equal", "skip", "left", "right"])
    done = http.get("/api/next", params={"labeller": "ann"}).json()
    assert done["next"] is None and done["progress"]["mine"] == 6
    assert len(read_jsonl(text_folder / LABELS_FILE)) == 4  # equal and skip train nothing
    assert len(read_jsonl(text_folder / SKIPS_FILE)) == 2
    data = load_preference_data(
        DataConfig(source=str(text_folder / LABELS_FILE), eval_fraction=0.0)
    )
    assert len(data.train) == 4 and data.report.skipped == 0


def test_arm_labels_are_what_arm_prefs_reads(arm_folder):
    http = client(arm_folder)
    shown = http.get("/api/next", params={"labeller": "ann"}).json()["next"]
    assert shown["kind"] == "arm"
    points = np.asarray(shown["left"]["points"])  # (L, bodies + fingertip, 3)
    assert points.shape[0] == 10 and points.shape[2] == 3
    assert np.asarray(shown["left"]["target"]).shape == (10, 3)
    label_all(http, "ann", ["left", "equal", "right", "skip"])
    pool = SegmentPool.load(arm_folder / "segments.npz")
    preferences = read_labels(arm_folder / LABELS_FILE, pool.ids)
    assert sorted(preferences.target.tolist()) == [0.0, 0.5, 1.0]


def test_undo_shows_the_pair_again_and_forgets_the_label(text_folder):
    http = client(text_folder)
    first, second = label_all(http, "ann", ["left", "right"])
    answer = post(http, "/api/undo", {"labeller": "ann"}).json()
    assert answer["undone"] == second and answer["next"]["pair"] == second
    assert answer["progress"]["mine"] == 1
    assert [row["pair"] for row in read_jsonl(text_folder / LABELS_FILE)] == [first]
    post(http, "/api/undo", {"labeller": "ann"})
    assert post(http, "/api/undo", {"labeller": "ann"}).status_code == 409


def test_resubmitting_stores_once(text_folder):
    http = client(text_folder)
    pair = http.get("/api/next", params={"labeller": "ann"}).json()["next"]["pair"]
    body = {"pair": pair, "labeller": "ann", "choice": "left"}
    assert post(http, "/api/label", body).json()["stored"] is True
    assert post(http, "/api/label", body).json()["stored"] is False
    assert post(http, "/api/label", {**body, "choice": "right"}).status_code == 409
    assert len(read_jsonl(text_folder / LABELS_FILE)) == 1


def test_each_pair_goes_to_labels_per_pair_labellers_and_agreement_shows(text_folder):
    http = client(text_folder, labels_per_pair=2)
    label_all(http, "ann", ["left"] * 6)
    label_all(http, "bob", ["left"] * 3 + ["right"] * 3)
    assert http.get("/api/next", params={"labeller": "cid"}).json()["next"] is None
    stats = http.get("/api/stats").json()
    assert stats["agreement"] == {"pairs": 6.0, "agreement": 0.5}
    assert stats["labellers"]["bob"]["right"] == 3


def test_the_stats_page_shows_the_reward_models_accuracy(arm_folder, tmp_path):
    from rlhf_arm.prefs.reward_model import TrajectoryRewardModel, export_numpy
    from rlhf_arm.prefs.state import save_numpy_reward

    pool = SegmentPool.load(arm_folder / "segments.npz")
    model = TrajectoryRewardModel(pool.observations.shape[2], pool.actions.shape[2], (8,), 1)
    save_numpy_reward(export_numpy(model), tmp_path / "reward_fn.npz")
    http = client(arm_folder, reward_model=str(tmp_path / "reward_fn.npz"))
    assert http.get("/api/stats").json()["reward_model"]["live"]["labels"] == 0
    label_all(http, "ann", ["left", "right", "equal"])
    live = http.get("/api/stats").json()["reward_model"]["live"]
    assert live["labels"] == 2 and 0.0 <= live["accuracy"] <= 1.0
    write_accuracy(arm_folder, "round 0", 2, 0.5)
    assert http.get("/api/stats").json()["reward_model"]["trainer"]["accuracy"] == 0.5


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"pair": "nope", "labeller": "ann", "choice": "left"}, 404, "unknown pair"),
        ({"pair": "t-000000", "labeller": "ann", "choice": "up"}, 422, "choice must be"),
        ({"pair": "t-000000", "labeller": "", "choice": "left"}, 422, "labeller"),
        ({"pair": "t-000000", "labeller": "ann"}, 422, "missing field(s): choice"),
        ([1, 2], 400, "JSON object"),
        ({"pair": "t-000000", "labeller": "x" * MAX_BODY, "choice": "left"}, 413, "larger"),
    ],
)
def test_bad_labels_get_a_4xx_and_write_nothing(text_folder, body, status, message):
    answer = post(client(text_folder), "/api/label", body)
    assert answer.status_code == status and message in answer.json()["detail"]
    assert not (text_folder / LABELS_FILE).exists()


def test_malformed_or_non_json_bodies_are_refused(text_folder):
    http = client(text_folder)
    bad = http.post("/api/label", content=b"{nope", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["detail"]
    form = http.post("/api/label", content=b"pair=t-000000&choice=left")  # a foreign form
    assert form.status_code == 415
    assert not (text_folder / LABELS_FILE).exists()


def test_static_files_cannot_escape_their_folder(text_folder):
    http = client(text_folder)
    assert http.get("/static/app.js").status_code == 200
    for path in ("/static/../store.py", "/static/%2e%2e/store.py", "/static/..%2fserver.py"):
        answer = http.get(path)
        assert answer.status_code == 404 and "def " not in answer.text


def test_a_token_is_needed_off_loopback_and_checked(text_folder):
    with pytest.raises(ValueError, match="--token"):
        check_bind("0.0.0.0", None)
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "s3cret")
    http = TestClient(
        create_app(text_folder, token="s3cret", loopback_only=False), base_url="http://lab.example"
    )
    assert http.get("/api/next", params={"labeller": "ann"}).status_code == 401
    assert http.get("/", params={"token": "wrong"}).status_code == 401
    assert http.get("/", params={"token": "s3cret"}).status_code == 200  # sets the cookie
    assert http.get("/api/next", params={"labeller": "ann"}).status_code == 200
    headers = {"X-Label-Token": "s3cret"}
    fresh = TestClient(http.app, base_url="http://lab.example")
    assert fresh.get("/api/stats", headers=headers).status_code == 200


def test_a_loopback_server_refuses_other_host_names(text_folder):
    rebound = TestClient(create_app(text_folder), base_url="http://evil.example")
    assert rebound.get("/api/stats").status_code == 403


def test_the_queue_grows_while_the_app_runs(text_folder):
    http = client(text_folder)
    label_all(http, "ann", ["left"] * 6)
    append_pairs(text_folder, [{"pair": "late", "prompt": "Q?", "left": " a", "right": " b"}])
    assert http.get("/api/next", params={"labeller": "ann"}).json()["next"]["pair"] == "late"


def test_a_pair_whose_clips_are_missing_says_so(arm_folder):
    append_pairs(arm_folder, [{"pair": "lost", "segments": "gone.npz", "left": "a", "right": "b"}])
    http = client(arm_folder)
    label_all(http, "ann", ["skip"] * 6)  # the last answer, which brings "lost", still 200
    answer = http.get("/api/next", params={"labeller": "ann"}).json()
    assert answer["next"] is None and "cannot show pair 'lost'" in answer["problem"]
    assert "segments file not found" in answer["problem"]
