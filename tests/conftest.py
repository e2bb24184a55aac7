import os

import pytest

# Offscreen MuJoCo rendering without a display (set before mujoco is imported).
os.environ.setdefault("MUJOCO_GL", "egl")

TEXTS = [
    "Human: How do I keep basil alive? Assistant: Water it when the soil is dry.",
    "Human: What is a good way to start running? Assistant: Run slowly three times a week.",
    "Human: Why is the sky blue? Assistant: Air scatters blue light more than red light.",
    "Human: How should I store bread? Assistant: Keep it in a paper bag at room temperature.",
    "the cat sat on the mat and the dog ran after the ball in the park",
]


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """A byte-level BPE tokenizer trained in a second on a few sentences (no download)."""
    from rlhf_text.tiny import train_tokenizer

    return train_tokenizer(TEXTS * 20, vocab_size=400, min_frequency=1)


@pytest.fixture(scope="session")
def tiny_lm(tiny_tokenizer):
    """A random 2-layer GPT-2 over the tiny tokenizer."""
    from rlhf_text.tiny import TinyModelConfig, tiny_causal_lm

    return tiny_causal_lm(tiny_tokenizer, TinyModelConfig(n_layer=2, n_embd=32, n_head=2))
