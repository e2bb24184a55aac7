"""Fixtures of the text tests: tiny step-1/step-2 model folders and their data."""

from __future__ import annotations

import json

import pytest

from rlhf_text.tiny import TinyModelConfig, tiny_causal_lm, tiny_value_model

ROWS = [
    {"prompt": f"Human: {q}? Assistant:", "chosen": " the answer is the cat", "rejected": " no"}
    for q in ("Why is the sky blue", "How do I bake bread", "What is a cat", "Where is the park")
]


@pytest.fixture(scope="session")
def step_dirs(tmp_path_factory, tiny_tokenizer) -> dict[str, str]:
    root = tmp_path_factory.mktemp("steps")
    small = TinyModelConfig(n_layer=1, n_embd=32, n_head=2, n_positions=64)
    for name, build in (("sft", tiny_causal_lm), ("rm", tiny_value_model)):
        build(tiny_tokenizer, small).save_pretrained(root / name)
        tiny_tokenizer.save_pretrained(root / name)
    data = root / "prefs.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    return {"sft": str(root / "sft"), "rm": str(root / "rm"), "data": str(data)}
