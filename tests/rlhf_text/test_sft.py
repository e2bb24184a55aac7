"""Step 1: SFT on a few dozen in-test rows with a tiny GPT-2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from agents.config import load_config
from rlhf_text.data import DataConfig, PreferencePair
from rlhf_text.engine import OptimConfig
from rlhf_text.models import ModelConfig
from rlhf_text.sft import SFTConfig, collate, run_sft, sft_examples
from rlhf_text.tiny import TinyModelConfig

TOPICS = ["bread", "basil", "running", "the sky", "tea", "rain", "cats", "music"]


def write_pairs(path: Path, count: int = 48) -> Path:
    """A JSON Lines file of easy pairs: chosen answers are kind and on topic."""
    with path.open("w") as file:
        for index in range(count):
            topic = TOPICS[index % len(TOPICS)]
            row = {
                "prompt": f"\n\nHuman: Tell me about {topic}, question {index}.\n\nAssistant:",
                "chosen": f" Thanks for asking! Here is a useful answer about {topic}.",
                "rejected": f" I do not know anything about {topic}, sorry.",
            }
            file.write(json.dumps(row) + "\n")
    return path


def small_run(tmp_path: Path, name: str, **overrides) -> dict:
    """Keyword arguments of an SFTConfig / RMConfig for a run of seconds."""
    settings = {
        "model": ModelConfig(
            tiny=TinyModelConfig(n_layer=2, n_embd=32, n_head=2, n_positions=64),
            tokenizer_vocab_size=400,
            tokenizer_min_frequency=1,
        ),
        "data": DataConfig(source=str(write_pairs(tmp_path / "pairs.jsonl")), eval_fraction=0.25),
        "optim": OptimConfig(learning_rate=3e-3, warmup_steps=2),
        "epochs": 2,
        "batch_size": 6,
        "max_prompt_len": 24,
        "max_len": 48,
        "progress": False,
        "torch_threads": 1,
        "run_dir": str(tmp_path / name),
    }
    settings.update(overrides)
    return settings


def test_response_loss_masks_the_prompt(tiny_tokenizer):
    pair = PreferencePair("Human: Why is the sky blue? Assistant:", " Air scatters it.", " No.")
    prompt_ids = tiny_tokenizer(pair.prompt)["input_ids"]
    response_ids = tiny_tokenizer(pair.chosen, add_special_tokens=False)["input_ids"]
    eos = tiny_tokenizer.eos_token_id
    (example,), truncated = sft_examples(tiny_tokenizer, [pair], 32, 64, "response")
    assert truncated == 0
    assert example.input_ids == prompt_ids + response_ids + [eos]
    assert example.labels == [-100] * len(prompt_ids) + response_ids + [eos]
    (full,), _ = sft_examples(tiny_tokenizer, [pair], 32, 64, "full")
    assert full.labels == full.input_ids


def test_over_long_examples_are_cut_and_counted(tiny_tokenizer):
    pair = PreferencePair("Human: " + "the cat sat " * 20 + "Assistant:", " the dog ran" * 20, " x")
    (example,), truncated = sft_examples(tiny_tokenizer, [pair], 8, 20, "response")
    assert truncated == 1
    assert len(example.input_ids) == 20
    assert example.labels[:8] == [-100] * 8 and -100 not in example.labels[8:]
    assert example.input_ids[-1] != tiny_tokenizer.eos_token_id  # the EOS was cut too


def test_collate_pads_on_the_right(tiny_tokenizer):
    pairs = [PreferencePair("Human: hi Assistant:", " hello there", " no")] * 2
    pairs[1] = PreferencePair("Human: hi Assistant:", " hi", " no")
    examples, _ = sft_examples(tiny_tokenizer, pairs, 16, 32)
    batch = collate(examples, tiny_tokenizer.pad_token_id)
    short = len(examples[1].input_ids)
    assert batch["attention_mask"][1].tolist() == [1] * short + [0] * (
        batch["input_ids"].shape[1] - short
    )
    assert (batch["labels"][1, short:] == -100).all()
    assert (batch["input_ids"][1, short:] == tiny_tokenizer.pad_token_id).all()


def test_sft_lowers_loss_and_perplexity_and_saves_a_loadable_model(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    optim = OptimConfig(learning_rate=1e-2, warmup_steps=2)
    config = SFTConfig(**small_run(tmp_path, "sft", epochs=5, max_len=40, optim=optim))
    losses = []
    metrics = run_sft(config, on_step=lambda step, m: losses.append(m["loss/sft"]))
    assert metrics["train/finished"] == 1.0 and metrics["train/steps"] == len(losses) == 30
    assert sum(losses[-3:]) < 0.5 * sum(losses[:3])
    assert metrics["eval/perplexity"] < 0.1 * metrics["eval/perplexity_before"]
    assert metrics["data/truncated"] == 0 and metrics["data/train_rows"] == 36

    out = Path(config.run_dir)
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.vocab_size == len(tokenizer)
    assert load_config(SFTConfig, out / "config.yaml") == config
    assert list((out / "tb").glob("events.out.tfevents.*"))
    # the model learned to stop: greedy decoding of a training prompt ends with EOS
    prompt = tokenizer(
        "\n\nHuman: Tell me about tea, question 4.\n\nAssistant:", return_tensors="pt"
    )
    output = model.generate(**prompt, max_new_tokens=30, do_sample=False)
    assert tokenizer.eos_token_id in output[0, prompt["input_ids"].shape[1] :].tolist()


def test_truncation_is_counted_in_the_metrics(tmp_path):
    config = SFTConfig(**small_run(tmp_path, "cut", epochs=1, max_prompt_len=6, max_len=12))
    metrics = run_sft(config)
    assert metrics["data/truncated"] == 48  # every row, train and eval


def final_weights(directory: str) -> dict[str, torch.Tensor]:
    return load_file(str(Path(directory) / "model.safetensors"))


@pytest.mark.parametrize("interrupt", ["stop_after", "keyboard"])
def test_stop_and_resume_equals_an_uninterrupted_run(tmp_path, interrupt):
    """Dropout on, two-step accumulation, stopped mid-window: still the same final weights."""
    settings = {
        "optim": OptimConfig(learning_rate=3e-3, gradient_accumulation_steps=2),
        "eval_every": 4,
        "checkpoint_every": 2,
    }
    whole = run_sft(SFTConfig(**small_run(tmp_path, "whole", **settings)))
    config = SFTConfig(**small_run(tmp_path, "parts", **settings))
    if interrupt == "stop_after":
        first = run_sft(config, stop_after=5)
        assert first["train/finished"] == 0.0 and first["train/steps"] == 5
    else:

        def interrupt_at_step_5(step: int, metrics: dict) -> None:
            if step == 5:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            run_sft(config, on_step=interrupt_at_step_5)
    assert not (Path(config.run_dir) / "model.safetensors").exists()
    resumed = run_sft(config)
    assert resumed["train/steps"] == whole["train/steps"] == 12
    assert resumed["eval/perplexity_before"] == whole["eval/perplexity_before"]
    assert resumed["eval/perplexity"] == whole["eval/perplexity"]
    expected, actual = final_weights(str(tmp_path / "whole")), final_weights(config.run_dir)
    assert expected.keys() == actual.keys()
    for name, value in expected.items():
        assert torch.equal(value, actual[name]), name


def test_max_steps_caps_the_run_and_its_schedule(tmp_path):
    seen = []
    config = SFTConfig(**small_run(tmp_path, "capped", epochs=3, max_steps=4))
    metrics = run_sft(config, on_step=lambda step, m: seen.append(m["train/lr"]))
    assert metrics["train/finished"] == 1.0 and metrics["train/steps"] == len(seen) == 4
    assert (Path(config.run_dir) / "model.safetensors").is_file()
    # 2 warmup steps, then the cosine spans the 2 capped steps left (over all 18 steps of
    # the 3 epochs it would still be near its peak at step 4)
    assert seen == pytest.approx([0.0, 0.0015, 0.003, 0.0015])
    with pytest.raises(ValueError, match="max_steps"):
        SFTConfig(max_steps=0)
