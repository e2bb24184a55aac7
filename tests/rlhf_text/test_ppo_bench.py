"""The text PPO benchmark's shared setup: loadable models and prompts of one exact length."""

from __future__ import annotations

import json

from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from rlhf_text.ppo_bench import Clock, save_models


def test_saved_models_load_and_prompts_have_one_length(tmp_path):
    save_models(
        tmp_path, vocab=400, layers=1, hidden=32, heads=2, prompt_len=12, new_tokens=4,
        batch_size=20,
    )  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "policy")
    prompts = json.loads((tmp_path / "prompts.json").read_text())
    assert len(prompts) == 20  # more than the 16 questions: they repeat
    assert {len(tokenizer(p)["input_ids"]) for p in prompts} == {12}
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "policy").config.n_layer == 1
    for name in ("value", "reward"):
        model = AutoModelForSequenceClassification.from_pretrained(tmp_path / name)
        assert model.config.num_labels == 1


def test_clock_counts_the_spans_after_the_warmup():
    clock = Clock(warmup=1)
    for _ in range(4):
        clock.mark()
    wall, cpu = clock.spans()
    assert len(wall) == len(cpu) == 2
    assert all(seconds >= 0 for seconds in wall + cpu)
