"""Text online rounds with people: the actor's answers wait in the app, the labels refit the
reward model, PPO continues, and the next round samples the new actor."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from transformers import AutoTokenizer

from rlhf_gym.label.server import create_app
from rlhf_text.data import DataConfig
from rlhf_text.models import ModelConfig
from rlhf_text.online import OnlineConfig, OnlineTextConfig, queue_pairs, run_online
from rlhf_text.ppo_config import TextEnvConfig
from rlhf_text.ppo_trainer import PPOTextConfig
from rlhf_text.reward_model import RMConfig
from rlhf_text.tiny import TinyModelConfig, tiny_causal_lm, train_tokenizer
from tests.rlhf_gym.conftest import read_jsonl, text_triples

SMALL = TinyModelConfig(n_layer=1, n_embd=32, n_head=2, n_positions=64)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def online_config(tmp_path: Path) -> OnlineTextConfig:
    rows = [{"prompt": p, "chosen": c, "rejected": r} for p, c, r in text_triples(8)]
    data = tmp_path / "prefs.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    tokenizer = train_tokenizer(
        [r["prompt"] + r["chosen"] + r["rejected"] for r in rows] * 5, 300, 1
    )
    sft = tmp_path / "sft"
    tiny_causal_lm(tokenizer, SMALL).save_pretrained(sft)
    tokenizer.save_pretrained(sft)
    return OnlineTextConfig(
        run_dir=str(tmp_path / "text"),
        data=DataConfig(source=str(data), eval_fraction=0.0),
        rm=RMConfig(
            model=ModelConfig(tiny=SMALL, tokenizer=str(sft)),
            epochs=1, batch_size=4, max_prompt_len=24, max_len=48,
            progress=False, torch_threads=1, run_dir="{run_dir}/rm",
        ),
        ppo=PPOTextConfig(
            actor=ModelConfig(name_or_path=str(sft)),
            critic=ModelConfig(name_or_path="{rm}"),
            reward={"type": "reward_model", "model": "{rm}", "max_length": 64},
            env=TextEnvConfig(max_prompt_len=24, max_new_tokens=6),
            batch_size=4, iterations=1, checkpoint_every=1, progress=False,
            torch_threads=1, judge="none", run_dir="{run_dir}/ppo",
        ),
        online=OnlineConfig(
            rounds=2, pairs_per_round=3, ppo_iterations=1, max_new_tokens=6,
            label_folder=str(tmp_path / "label"),
        ),
    )  # fmt: skip


class Person(threading.Thread):
    """Labels every pair as it appears: the shorter answer wins."""

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.http = TestClient(create_app(folder), base_url="http://127.0.0.1")
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            shown = self.http.get("/api/next", params={"labeller": "ann"}).json()["next"]
            if shown is None:
                self.stop.wait(0.05)
                continue
            choice = "left" if len(shown["left"]) <= len(shown["right"]) else "right"
            body = {"pair": shown["pair"], "labeller": "ann", "choice": choice}
            self.http.post(
                "/api/label", content=json.dumps(body), headers={"Content-Type": "application/json"}
            )


def test_online_rounds_label_refit_and_continue_ppo(tmp_path):
    config = online_config(tmp_path)
    folder = Path(config.online.label_folder)
    person = Person(folder)
    person.start()
    try:
        history = run_online(config)
    finally:
        person.stop.set()
        person.join(timeout=10)
    assert [row["round"] for row in history] == [0, 1]
    pairs = read_jsonl(folder / "pairs.jsonl")
    assert {p["pair"][:3] for p in pairs} == {"o00", "o01"}
    assert history[1]["labels"] == len(read_jsonl(folder / "labels.jsonl")) == len(pairs)
    online = tmp_path / "text" / "online"
    for round_dir in ("round_00", "round_01"):
        assert (online / round_dir / "rm" / "config.json").is_file()
        assert (online / round_dir / "ppo" / "actor" / "config.json").is_file()
    assert json.loads((folder / "rm_accuracy.json").read_text())["labels"] == len(pairs)
    again = run_online(config)  # finished: resuming does nothing more
    assert [(r["round"], r["labels"]) for r in again] == [(0, 3), (1, 6)]


def test_a_resumed_round_finds_its_pairs_queued(tmp_path):
    triples = text_triples(2)
    first = queue_pairs(tmp_path, 0, triples)
    assert queue_pairs(tmp_path, 0, triples) == first
    assert len(read_jsonl(tmp_path / "pairs.jsonl")) == 2
    with pytest.raises(ValueError, match="fresh labelling folder"):
        queue_pairs(tmp_path, 0, text_triples(2, seed=5))


def test_the_queue_fills_from_a_model_or_a_data_set(tmp_path):
    from rlhf_gym.label.sources import add_text_from_data, add_text_from_model

    config = online_config(tmp_path)
    folder = tmp_path / "queue"
    assert add_text_from_model(folder, config.ppo.actor.name_or_path, config.data.source, 3) == 3
    assert add_text_from_data(folder, config.data.source, 2) == 2
    pairs = read_jsonl(folder / "pairs.jsonl")
    assert len({p["pair"] for p in pairs}) == 5
    assert all(p["left"] != p["right"] and p["prompt"].endswith("Assistant:") for p in pairs)


def test_the_stats_page_scores_a_text_reward_model_on_the_labels(tmp_path, text_folder):
    from rlhf_text.tiny import tiny_value_model

    config = online_config(tmp_path)  # its SFT folder holds the tokenizer
    tokenizer = AutoTokenizer.from_pretrained(config.ppo.actor.name_or_path)
    rm = tmp_path / "rm"
    tiny_value_model(tokenizer, SMALL).save_pretrained(rm)
    tokenizer.save_pretrained(rm)
    http = TestClient(create_app(text_folder, reward_model=str(rm)), base_url="http://127.0.0.1")
    for _ in range(3):
        pair = http.get("/api/next", params={"labeller": "ann"}).json()["next"]["pair"]
        body = {"pair": pair, "labeller": "ann", "choice": "left"}
        http.post(
            "/api/label", content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
    live = http.get("/api/stats").json()["reward_model"]["live"]
    assert live["labels"] == 3 and live["accuracy"] in (0.0, 1 / 3, 2 / 3, 1.0)
