"""A person's path through the app: Chromium, driven by Playwright, labels pairs by keyboard
in both modes; the JSONL holds the labels, and a reward model trains from them.

Needs Playwright (the ``dev`` extra) and a Chromium: ``/usr/bin/chromium`` (Debian's) or the
one ``RLHF_GYM_CHROMIUM`` names; skipped without one. ``RLHF_GYM_SCREENSHOTS=docs`` writes
the screenshots ``docs/label-text.png`` and ``docs/label-arm.png``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rlhf_arm.prefs.labels import read_labels
from rlhf_arm.prefs.reward_model import (
    TrajectoryRewardModel,
    evaluate_reward_model,
    fit_reward_model,
)
from rlhf_arm.prefs.segments import SegmentPool
from rlhf_gym.label.queue import append_pairs
from rlhf_gym.label.server import create_app, serving
from rlhf_gym.label.sources import text_entries
from rlhf_gym.label.store import LABELS_FILE, SKIPS_FILE
from tests.rlhf_gym.conftest import read_jsonl, text_triples

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("RLHF_GYM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="no Chromium to drive")


def screenshot_path(tmp_path: Path, name: str) -> Path:
    folder = os.environ.get("RLHF_GYM_SCREENSHOTS")
    return Path(folder) / name if folder else tmp_path / name


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def press_and_wait(page, key: str) -> str:
    """Presses ``key`` and waits until the page shows another pair (or none); its id."""
    before = page.evaluate("document.body.dataset.pair")
    page.keyboard.press(key)
    page.wait_for_function(
        "([before]) => document.body.dataset.state !== 'busy' && "
        "document.body.dataset.pair !== before",
        arg=[before],
    )
    return page.evaluate("document.body.dataset.pair")


def test_text_labelled_by_keyboard_trains_the_text_reward_model(browser, tmp_path):
    folder = tmp_path / "text"
    append_pairs(folder, text_entries(text_triples(16), "t-", seed=0))
    with serving(create_app(folder)) as url:
        page = browser.new_page(viewport={"width": 1100, "height": 620})
        page.goto(url)
        page.fill("#labeller", "ann")
        page.press("#labeller", "Enter")
        page.wait_for_selector("body[data-state=ready]")
        page.screenshot(path=str(screenshot_path(tmp_path, "label-text.png")))
        press_and_wait(page, "s")  # skip the first pair
        press_and_wait(page, "ArrowDown")  # equal: trains nothing in text
        press_and_wait(page, "u")  # undo the equal: that pair is back
        while page.evaluate("document.body.dataset.state") == "ready":
            better = "left" if "thanks" in page.inner_text("#left-text") else "right"
            press_and_wait(page, {"left": "ArrowLeft", "right": "ArrowRight"}[better])
        assert page.inner_text("#count").startswith("16 / 16")
        page.close()
    rows = read_jsonl(folder / LABELS_FILE)
    assert len(rows) == 15 and all("thanks" in row["chosen"] for row in rows)
    assert [row["choice"] for row in read_jsonl(folder / SKIPS_FILE)] == ["skip"]

    from rlhf_text.data import DataConfig
    from rlhf_text.engine import OptimConfig
    from rlhf_text.models import ModelConfig
    from rlhf_text.reward_model import RMConfig, run_reward_model
    from rlhf_text.tiny import TinyModelConfig

    config = RMConfig(
        model=ModelConfig(
            tiny=TinyModelConfig(n_layer=1, n_embd=32, n_head=2, n_positions=64),
            tokenizer_vocab_size=300,
            tokenizer_min_frequency=1,
        ),
        data=DataConfig(source=str(folder / LABELS_FILE), eval_fraction=0.2),
        optim=OptimConfig(learning_rate=3e-3, warmup_steps=1),
        epochs=8, batch_size=4, max_prompt_len=24, max_len=40,
        progress=False, torch_threads=1, run_dir=str(tmp_path / "rm"),
    )  # fmt: skip
    metrics = run_reward_model(config, resume=False)
    # held-out labels: ranked by chance before training, all right after
    assert metrics["eval/accuracy_before"] < 1.0 and metrics["eval/accuracy"] == 1.0
    assert (tmp_path / "rm" / "config.json").is_file()


def final_distance(clip: dict) -> float:
    return float(np.linalg.norm(np.subtract(clip["points"][-1][-1], clip["target"][-1])))


def test_arm_clips_labelled_by_keyboard_train_the_arm_reward_model(browser, arm_folder, tmp_path):
    with serving(create_app(arm_folder)) as url:
        page = browser.new_page(viewport={"width": 1100, "height": 620})
        page.goto(f"{url}/?labeller=bob")
        page.wait_for_selector("body[data-state=ready]")
        page.wait_for_timeout(700)  # let the clips play a while
        page.screenshot(path=str(screenshot_path(tmp_path, "label-arm.png")))
        assert page.inner_text("#frame") != "1 / 10"  # the clips play
        while page.evaluate("document.body.dataset.state") == "ready":
            # the scripted labeller's judgement: the fingertip that ends nearer the target
            left, right = page.evaluate("[current.left, current.right]")
            key = "ArrowLeft" if final_distance(left) < final_distance(right) else "ArrowRight"
            press_and_wait(page, key)
        page.goto(f"{url}/stats")  # the statistics page shows who labelled what
        page.wait_for_function("document.querySelector('#summary').textContent.length > 0")
        assert page.inner_text("#summary").startswith("6 decisions on 6 pairs")
        assert page.inner_text("#labellers").split("\n")[-1].split("\t")[0] == "bob"
        page.close()
    pool = SegmentPool.load(arm_folder / "segments.npz")
    preferences = read_labels(arm_folder / LABELS_FILE, pool.ids)
    assert len(preferences) == 6
    torch.manual_seed(0)
    model = TrajectoryRewardModel(pool.observations.shape[2], pool.actions.shape[2], (32,), 1)
    model.set_input_normalization(pool.observations, pool.actions)
    observations, actions = torch.as_tensor(pool.observations), torch.as_tensor(pool.actions)
    before = evaluate_reward_model(model, observations, actions, preferences)["loss"]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    fit_reward_model(
        model, optimizer, observations, actions, preferences, 50, 8, torch.Generator(), False
    )
    after = evaluate_reward_model(model, observations, actions, preferences)
    assert after["loss"] < before and after["accuracy"] == 1.0
