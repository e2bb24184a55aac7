"""Step 2: the reward model trains on pairs and loads as the text env's reward model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from envs.rewards.reward_model import RewardModelScorer
from rlhf_text.data import DataConfig, PreferencePair, load_preference_data
from rlhf_text.engine import OptimConfig
from rlhf_text.models import ModelConfig, load_tokenizer, load_value_model
from rlhf_text.reward_model import (
    RMConfig,
    evaluate_reward_model,
    pair_examples,
    run_reward_model,
    score_pairs,
    scorer_token_ids,
)
from rlhf_text.tiny import TinyModelConfig, tiny_value_model
from tests.rlhf_text.test_sft import small_run

WORDS = ["the", "a", "cat", "dog", "sun", "tree", "road", "blue", "green", "small", "big"]


def write_keyword_pairs(path: Path, count: int = 64, seed: int = 0) -> Path:
    """Chosen and rejected differ in one word only: "thanks" in chosen, a random one in rejected."""
    rng = random.Random(seed)
    with path.open("w") as file:
        for index in range(count):
            words = [rng.choice(WORDS) for _ in range(6)]
            spot = rng.randrange(len(words) + 1)
            chosen, rejected = list(words), list(words)
            chosen.insert(spot, "thanks")
            rejected.insert(spot, rng.choice(WORDS))
            row = {
                "prompt": f"\n\nHuman: Say something, {index}.\n\nAssistant:",
                "chosen": " " + " ".join(chosen),
                "rejected": " " + " ".join(rejected),
            }
            file.write(json.dumps(row) + "\n")
    return path


def test_tokenisation_matches_the_scorer(tiny_tokenizer):
    model = tiny_value_model(tiny_tokenizer, TinyModelConfig(n_layer=1, n_embd=32, n_head=2))
    scorer = RewardModelScorer(model, tiny_tokenizer, max_length=64)
    prompts = ["Human: Why is the sky blue? Assistant:", "the cat", "Water"]
    responses = [" Air scatters blue light.", "sat on the mat", "ing the basil"]
    ours = scorer_token_ids(tiny_tokenizer, prompts, responses, max_prompt_len=32, max_len=64)
    assert [row.ids for row in ours] == scorer._tokenize(
        [p + r for p, r in zip(prompts, responses, strict=True)]
    )
    assert not any(row.truncated for row in ours)
    cut = scorer_token_ids(tiny_tokenizer, ["Human: " + "blue " * 30], [" red" * 30], 8, 16)
    assert cut[0].truncated and len(cut[0].ids) == 16


def test_text_ending_with_the_pad_token_is_an_error(tiny_tokenizer):
    pair = PreferencePair("Human: hi Assistant:", " hello<|pad|>", " no")
    with pytest.raises(ValueError, match="pad token"):
        pair_examples(tiny_tokenizer, [pair], 16, 32, tiny_tokenizer.pad_token_id)


def test_reward_model_learns_an_easy_preference(tmp_path):
    data = DataConfig(
        source=str(write_keyword_pairs(tmp_path / "keyword.jsonl")), eval_fraction=0.25
    )
    config = RMConfig(
        **small_run(
            tmp_path,
            "rm",
            data=data,
            epochs=6,
            optim=OptimConfig(learning_rate=3e-3, warmup_steps=2),
        )
    )
    losses = []
    metrics = run_reward_model(config, on_step=lambda step, m: losses.append(m["loss/rm"]))
    assert metrics["eval/accuracy_before"] <= 0.6  # not solved by the random model
    assert metrics["eval/accuracy"] >= 0.95
    assert metrics["eval/margin"] > metrics["eval/margin_before"] + 0.3
    assert metrics["eval/chosen_score"] > metrics["eval/rejected_score"]
    assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:4])


def test_saved_reward_model_scores_in_the_env_as_in_training(tmp_path):
    config = RMConfig(**small_run(tmp_path, "rm", epochs=1, batch_size=18))
    metrics = run_reward_model(config)
    assert metrics["train/steps"] == 2
    out = Path(config.run_dir)
    pairs = load_preference_data(config.data).eval

    # the whole held-out evaluation, through the scorer, equals the in-training one
    through_scorer = evaluate_reward_model(str(out), pairs, max_length=config.max_len)
    for key in ("accuracy", "chosen_score", "rejected_score", "margin", "loss"):
        assert through_scorer[key] == pytest.approx(metrics[f"eval/{key}"], abs=1e-5), key

    # and pair by pair
    scorer = RewardModelScorer(out, max_length=config.max_len)
    prompts = [pair.prompt for pair in pairs]
    env_chosen = scorer.score(prompts, [pair.chosen for pair in pairs])
    env_rejected = scorer.score(prompts, [pair.rejected for pair in pairs])
    model_config = ModelConfig(name_or_path=str(out))
    tokenizer = load_tokenizer(model_config)
    model = load_value_model(model_config, tokenizer).eval()
    examples, _ = pair_examples(tokenizer, pairs, 24, 48, model.config.pad_token_id)
    chosen, rejected = score_pairs(model, examples, batch_size=5)
    np.testing.assert_allclose(env_chosen, chosen.double().numpy(), atol=1e-5)
    np.testing.assert_allclose(env_rejected, rejected.double().numpy(), atol=1e-5)
    assert not torch.allclose(chosen, rejected)
