"""TrainEngine: schedules, accumulation, clipping, checkpoints; DeepSpeed ZeRO on the CPU."""

from __future__ import annotations

import json
import math
import os
import warnings

import pytest
import torch

from rlhf_text.engine import (
    OptimConfig,
    TrainEngine,
    build_deepspeed_config,
    lr_factor,
    parameter_groups,
)
from rlhf_text.tiny import TinyModelConfig, tiny_causal_lm

SMALL = TinyModelConfig(n_layer=2, n_embd=32, n_head=2, n_positions=64)


def make_model(tokenizer):
    return tiny_causal_lm(tokenizer, SMALL, seed=0).eval()  # eval: no dropout, exact sums


def batches(tokenizer, count: int, size: int = 2, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, len(tokenizer), (size, 12), generator=generator) for _ in range(count)]


def train(engine: TrainEngine, inputs: list[torch.Tensor]) -> list[float]:
    norms = []
    for input_ids in inputs:
        engine.backward(engine.module(input_ids=input_ids, labels=input_ids).loss)
        norms.append(engine.step())
    return norms


def parameters(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone().float() for name, p in model.named_parameters()}


@pytest.mark.parametrize(
    ("scheduler", "expected"),
    [
        ("constant", [0.0, 0.5, 1.0, 1.0, 1.0, 1.0]),
        ("linear", [0.0, 0.5, 1.0, 0.75, 0.5, 0.25]),
        ("cosine", [0.0, 0.5, 1.0, (1 + math.cos(math.pi / 4)) / 2, 0.5, 0.14644660940672627]),
    ],
)
def test_lr_schedule_warms_up_then_decays(scheduler, expected):
    factor = lr_factor(OptimConfig(lr_scheduler=scheduler, warmup_steps=2), total_steps=6)
    assert [factor(step) for step in range(6)] == pytest.approx(expected)
    assert factor(6) == pytest.approx(0.0 if scheduler != "constant" else 1.0)


def test_engine_lr_follows_the_schedule(tiny_tokenizer):
    optim = OptimConfig(learning_rate=1e-2, lr_scheduler="linear", warmup_steps=1)
    engine = TrainEngine(make_model(tiny_tokenizer), optim, total_steps=3)
    seen = [engine.lr]
    for input_ids in batches(tiny_tokenizer, 3):
        train(engine, [input_ids])
        seen.append(engine.lr)
    assert seen == pytest.approx([0.0, 1e-2, 5e-3, 0.0])


def test_weight_decay_spares_biases_and_norms(tiny_tokenizer):
    groups = parameter_groups(make_model(tiny_tokenizer), weight_decay=0.1)
    assert [group["weight_decay"] for group in groups] == [0.1, 0.0]
    assert all(p.dim() >= 2 for p in groups[0]["params"])
    assert all(p.dim() == 1 for p in groups[1]["params"])


def test_accumulating_two_halves_equals_one_full_batch(tiny_tokenizer):
    inputs = batches(tiny_tokenizer, 2, size=2)
    # a large adam_eps makes the first update proportional to the gradient, not its sign
    optim = OptimConfig(lr_scheduler="constant", max_grad_norm=None, adam_eps=1.0)
    full = TrainEngine(make_model(tiny_tokenizer), optim, total_steps=1)
    norm_full = train(full, [torch.cat(inputs)])
    accumulated = TrainEngine(
        make_model(tiny_tokenizer),
        OptimConfig(**{**vars(optim), "gradient_accumulation_steps": 2}),
        total_steps=1,
    )
    norms = train(accumulated, inputs)
    assert math.isnan(norms[0]) and accumulated.optimizer_steps == 1
    assert norms[1] == pytest.approx(norm_full[0], rel=1e-5)
    for name, value in parameters(full.module).items():
        assert torch.allclose(value, parameters(accumulated.module)[name], atol=1e-7), name


def test_step_returns_the_norm_before_clipping(tiny_tokenizer):
    engine = TrainEngine(make_model(tiny_tokenizer), OptimConfig(max_grad_norm=1e-3), 5)
    input_ids = batches(tiny_tokenizer, 1)[0]
    engine.backward(engine.module(input_ids=input_ids, labels=input_ids).loss)
    grads = [p.grad for p in engine.module.parameters() if p.grad is not None]
    expected = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
    assert engine.step() == pytest.approx(expected, rel=1e-5)
    assert expected > 1e-3  # so it was clipped
    assert all(p.grad is None for p in engine.module.parameters())


def test_step_clips_to_the_smaller_of_its_own_and_the_given_limit(tiny_tokenizer):
    """A caller's max_grad_norm (PPO's) clips an engine whose own limit is looser or unset."""
    input_ids = batches(tiny_tokenizer, 1)[0]

    def stepped(own: float | None, given: float | None) -> dict[str, torch.Tensor]:
        optim = OptimConfig(max_grad_norm=own, adam_eps=1.0, lr_scheduler="constant")
        engine = TrainEngine(make_model(tiny_tokenizer), optim, 5)
        engine.backward(engine.module(input_ids=input_ids, labels=input_ids).loss)
        assert engine.step(given) > 1e-3  # so a limit of 1e-3 bites
        return parameters(engine.module)

    expected = stepped(1e-3, None)
    for own, given in ((None, 1e-3), (1.0, 1e-3), (1e-3, 1.0)):
        for name, value in stepped(own, given).items():
            assert torch.allclose(value, expected[name], atol=1e-7), (own, given, name)
    assert not torch.allclose(
        stepped(None, None)["transformer.wte.weight"], expected["transformer.wte.weight"]
    )


def test_deepspeed_step_refuses_a_tighter_limit_than_its_clip(tiny_tokenizer):
    """DeepSpeed fixes its clip at initialize: a tighter per-step limit is an error."""
    pytest.importorskip("deepspeed")
    engine = TrainEngine(
        make_model(tiny_tokenizer),
        OptimConfig(max_grad_norm=1.0),
        2,
        {"zero_optimization": {"stage": 2}},
    )
    input_ids = batches(tiny_tokenizer, 1)[0]
    engine.backward(engine.module(input_ids=input_ids, labels=input_ids).loss)
    with pytest.raises(ValueError, match="gradient_clipping"):
        engine.step(0.5)
    assert math.isfinite(engine.step(1.0))  # the same limit (or looser) is what it does


def test_checkpoint_round_trip_continues_identically(tiny_tokenizer, tmp_path):
    optim = OptimConfig(learning_rate=1e-2, warmup_steps=1)
    inputs = batches(tiny_tokenizer, 4)
    engine = TrainEngine(make_model(tiny_tokenizer), optim, total_steps=4)
    train(engine, inputs[:2])
    engine.save_checkpoint(tmp_path, {"position": 2})
    train(engine, inputs[2:])

    resumed = TrainEngine(make_model(tiny_tokenizer), optim, total_steps=4)
    assert resumed.load_checkpoint(tmp_path)["position"] == 2
    assert resumed.optimizer_steps == 2
    train(resumed, inputs[2:])
    assert resumed.lr == engine.lr
    for name, value in parameters(engine.module).items():
        assert torch.equal(value, parameters(resumed.module)[name]), name


def test_deepspeed_config_is_filled_from_optim_config(tmp_path):
    path = tmp_path / "ds.json"
    path.write_text(
        json.dumps(
            {
                "train_batch_size": "auto",
                "gradient_accumulation_steps": "auto",
                "zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu"}},
                "bf16": {"enabled": True},
            }
        )
    )
    optim = OptimConfig(learning_rate=3e-4, gradient_accumulation_steps=4, max_grad_norm=None)
    config = build_deepspeed_config(path, optim, micro_batch_size=8)
    assert config["train_micro_batch_size_per_gpu"] == 8
    assert config["gradient_accumulation_steps"] == 4
    assert config["gradient_clipping"] == 0.0
    assert "train_batch_size" not in config
    params = config["optimizer"]["params"]
    assert config["optimizer"]["type"] == "AdamW"
    assert params == {
        "lr": 3e-4,
        "betas": [0.9, 0.95],
        "eps": 1e-8,
        "weight_decay": 0.0,
        "torch_adam": True,
    }
    given = {"gradient_clipping": 0.5, "optimizer": {"type": "Adam", "params": {"lr": 1e-5}}}
    config = build_deepspeed_config(given, optim, 1, bf16_parameters=True)
    assert config["gradient_clipping"] == 0.5 and config["optimizer"]["params"]["lr"] == 1e-5
    assert config["bf16"] == {"enabled": True}
    assert "optimizer" not in given["optimizer"]["params"] and "torch_adam" not in given
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        build_deepspeed_config({"gradient_accumulation_steps": 2}, optim, 1)


def test_plain_and_deepspeed_checkpoints_do_not_mix(tiny_tokenizer, tmp_path):
    (tmp_path / "latest").write_text("global_step1")
    engine = TrainEngine(make_model(tiny_tokenizer), OptimConfig(), 1)
    with pytest.raises(ValueError, match="DeepSpeed checkpoint"):
        engine.has_checkpoint(tmp_path)
    assert not engine.has_checkpoint(tmp_path / "empty")


def test_zero3_save_pretrained_round_trip(tiny_tokenizer, tmp_path):
    """ZeRO-3 partitions the weights; save_pretrained gathers them into a normal directory."""
    pytest.importorskip("deepspeed")
    from transformers import AutoModelForCausalLM

    warnings.filterwarnings("ignore", category=FutureWarning)  # torch.distributed deprecations
    inputs = batches(tiny_tokenizer, 2)
    deepspeed_config = {"zero_optimization": {"stage": 3}}
    engine = TrainEngine(
        make_model(tiny_tokenizer), OptimConfig(learning_rate=1e-2), 2, deepspeed_config, 2
    )
    assert engine.zero_stage == 3
    assert os.environ["MASTER_ADDR"] == "127.0.0.1"
    norms = train(engine, inputs)
    assert all(norm > 0 for norm in norms) and engine.optimizer_steps == 2
    engine.eval()
    with torch.no_grad():
        logits = engine.module(input_ids=inputs[0]).logits
    engine.save_pretrained(tmp_path / "hf", tiny_tokenizer)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=inputs[0]).logits, logits)
    assert (tmp_path / "hf" / "tokenizer.json").is_file()
    # it trained: the saved weights are not the initial ones
    initial = make_model(tiny_tokenizer)
    assert not torch.equal(loaded.transformer.wte.weight, initial.transformer.wte.weight)


def test_zero3_accumulation_through_the_module_matches_plain(tiny_tokenizer):
    """Calling .module directly (not DeepSpeed's forward) still accumulates under ZeRO-3."""
    pytest.importorskip("deepspeed")
    import deepspeed

    inputs = batches(tiny_tokenizer, 4)
    # adam_eps=1: updates proportional to the gradients (not their signs), so they compare
    optim = OptimConfig(gradient_accumulation_steps=2, adam_eps=1.0, lr_scheduler="constant")
    plain = TrainEngine(make_model(tiny_tokenizer), optim, 2)
    zero3 = TrainEngine(make_model(tiny_tokenizer), optim, 2, {"zero_optimization": {"stage": 3}})
    expected, norms = train(plain, inputs), train(zero3, inputs)
    assert norms[1::2] == pytest.approx(expected[1::2], rel=1e-5)
    with deepspeed.zero.GatheredParameters(list(zero3.module.parameters())):
        gathered = parameters(zero3.module)
    for name, value in parameters(plain.module).items():
        assert torch.allclose(value, gathered[name], atol=1e-6), name


def test_deepspeed_checkpoint_round_trip(tiny_tokenizer, tmp_path):
    pytest.importorskip("deepspeed")
    optim = OptimConfig(learning_rate=1e-2, warmup_steps=1)
    inputs = batches(tiny_tokenizer, 4)
    deepspeed_config = {"zero_optimization": {"stage": 2}}
    engine = TrainEngine(make_model(tiny_tokenizer), optim, 4, deepspeed_config, 2)
    train(engine, inputs[:2])
    engine.save_checkpoint(tmp_path / "at2", {"position": 2})
    engine.save_checkpoint(tmp_path / "later")
    train(engine, inputs[2:])
    engine.save_checkpoint(tmp_path / "later")
    assert [p.name for p in (tmp_path / "later").glob("global_step*")] == ["global_step4"]

    resumed = TrainEngine(make_model(tiny_tokenizer), optim, 4, deepspeed_config, 2)
    assert resumed.load_checkpoint(tmp_path / "at2")["position"] == 2
    assert resumed.optimizer_steps == 2
    train(resumed, inputs[2:])
    assert resumed.lr == pytest.approx(engine.lr)
    for name, value in parameters(engine.module).items():
        assert torch.equal(value, parameters(resumed.module)[name]), name
    with pytest.raises(ValueError, match="DeepSpeed checkpoint"):
        TrainEngine(make_model(tiny_tokenizer), optim, 4).has_checkpoint(tmp_path / "at2")


def test_sft_reward_model_and_ppo_steps_under_deepspeed_zero2(tmp_path):
    """All three steps train under ZeRO-2 with bf16 in this one process, resume, and save."""
    pytest.importorskip("deepspeed")
    from agents.checkpoint import checkpoint_folder
    from envs.rewards.reward_model import RewardModelScorer
    from rlhf_text.data import load_preference_data
    from rlhf_text.reward_model import RMConfig, evaluate_reward_model, run_reward_model
    from rlhf_text.sft import SFTConfig, run_sft
    from tests.rlhf_text.test_sft import small_run

    deepspeed_config = tmp_path / "zero2.json"
    deepspeed_config.write_text(
        json.dumps(
            {
                "train_batch_size": "auto",
                "zero_optimization": {"stage": 2},
                "bf16": {"enabled": True},
            }
        )
    )
    settings = {"epochs": 1, "batch_size": 18, "deepspeed": str(deepspeed_config)}
    sft = SFTConfig(**small_run(tmp_path, "sft", **settings))
    first = run_sft(sft, stop_after=1)
    assert first["train/finished"] == 0.0
    assert (checkpoint_folder(tmp_path / "sft")[1] / "engine" / "latest").is_file()
    metrics = run_sft(sft)
    assert metrics["train/finished"] == 1.0 and metrics["train/optimizer_steps"] == 2
    assert metrics["eval/perplexity"] < metrics["eval/perplexity_before"]
    assert (tmp_path / "sft" / "model.safetensors").is_file()

    rm = RMConfig(**small_run(tmp_path, "rm", **settings))
    metrics = run_reward_model(rm)
    assert metrics["train/optimizer_steps"] == 2
    pairs = load_preference_data(rm.data).eval
    scorer = RewardModelScorer(tmp_path / "rm", max_length=rm.max_len)
    assert next(scorer.model.parameters()).dtype == torch.bfloat16
    through_scorer = evaluate_reward_model(tmp_path / "rm", pairs, max_length=rm.max_len)
    assert through_scorer["chosen_score"] == pytest.approx(metrics["eval/chosen_score"], abs=1e-2)

    from rlhf_text.models import ModelConfig
    from rlhf_text.ppo_trainer import PPOTextConfig, TextEnvConfig, run_ppo

    ppo = PPOTextConfig(
        actor=ModelConfig(name_or_path=str(tmp_path / "sft")),
        critic=ModelConfig(name_or_path=str(tmp_path / "rm")),
        reward={"type": "reward_model", "model": str(tmp_path / "rm"), "max_length": rm.max_len},
        data=rm.data,
        env=TextEnvConfig(max_prompt_len=rm.max_prompt_len, max_new_tokens=4),
        batch_size=4,
        iterations=2,
        deepspeed=str(deepspeed_config),
        run_dir=str(tmp_path / "ppo"),
        progress=False,
    )
    history = run_ppo(ppo)
    assert len(history) == 2 and all(row["train/grad_norm"] > 0 for row in history)
    assert (checkpoint_folder(tmp_path / "ppo")[1] / "parts" / "actor" / "latest").is_file()
    assert (tmp_path / "ppo" / "actor" / "config.json").is_file()
