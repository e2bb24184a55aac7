"""Fixtures of the labelling-app tests: folders with text pairs and with arm clip pairs."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the arm)
from rlhf_arm.prefs.segments import SegmentPool
from rlhf_gym.label.queue import append_pairs
from rlhf_gym.label.sources import add_arm_from_segments, text_entries

WORDS = ["the", "cat", "dog", "sun", "tree", "road", "blue", "green", "small", "big"]


def text_triples(count: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """Prompts with a good answer (says "thanks") and a worse one, as a labeller sees them."""
    rng = np.random.default_rng(seed)
    triples = []
    for index in range(count):
        words = " ".join(rng.choice(WORDS, 5))
        prompt = f"\n\nHuman: Say something nice, {index}.\n\nAssistant:"
        triples.append((prompt, f" thanks {words}", f" {words} no"))
    return triples


def random_segments(path: Path, starts: int = 4, repeats: int = 2, length: int = 10) -> Path:
    """Clips of random actions: ``repeats`` episodes per start, cut into ``length`` steps."""
    env = gym.make("RLHFGym/ArmReach-v0")
    rng = np.random.default_rng(0)
    ids, observations, actions, rewards, start_of, window_of = [], [], [], [], [], []
    for start in range(starts):
        for _ in range(repeats):
            env.reset(seed=start)
            steps = [env.step(rng.uniform(-1, 1, 5).astype(np.float32)) for _ in range(2 * length)]
            acted = rng.uniform(-1, 1, (2 * length, 5)).astype(np.float32)
            for window in range(2):
                cut = slice(window * length, (window + 1) * length)
                ids.append(f"r00-s{len(ids):04d}")
                observations.append(np.stack([s[0] for s in steps[cut]]))
                actions.append(acted[cut])
                rewards.append([s[1] for s in steps[cut]])
                start_of.append(start)
                window_of.append(window)
    env.close()
    pool = SegmentPool(
        ids,
        np.asarray(observations, np.float32),
        np.asarray(actions, np.float32),
        np.asarray(rewards, np.float32),
        np.zeros((len(ids), length), bool),
        np.asarray(start_of),
        np.asarray(window_of),
    )
    return pool.save(path)


@pytest.fixture
def text_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "text-labels"
    append_pairs(folder, text_entries(text_triples(6), "t-", seed=0))
    return folder


@pytest.fixture(scope="session")
def segments_file(tmp_path_factory) -> Path:
    return random_segments(tmp_path_factory.mktemp("clips") / "segments.npz")


@pytest.fixture
def arm_folder(tmp_path: Path, segments_file: Path) -> Path:
    folder = tmp_path / "arm-labels"
    add_arm_from_segments(folder, segments_file, limit=6)
    return folder


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
