"""Step 3 end to end on tiny models: outputs, logging, options, exact resume."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from agents.checkpoint import checkpoint_folder
from agents.logger import read_metrics
from rlhf_text.data import DataConfig
from rlhf_text.engine import OptimConfig
from rlhf_text.models import ModelConfig
from rlhf_text.ppo import TextPPOConfig
from rlhf_text.ppo_trainer import LoraConfig, PPOTextConfig, TextEnvConfig, run_ppo


def e_count(prompts: list[str], responses: list[str]) -> list[float]:
    """Rewards the letter "e": a dense rule a tiny random model can learn in a few iterations."""
    return [float(response.count("e")) for response in responses]


def config(step_dirs, out: Path, **changes) -> PPOTextConfig:
    base = PPOTextConfig(
        actor=ModelConfig(name_or_path=step_dirs["sft"]),
        critic=ModelConfig(name_or_path=step_dirs["rm"]),
        reward={"type": "reward_model", "model": step_dirs["rm"], "max_length": 64},
        data=DataConfig(source=step_dirs["data"], eval_fraction=0.0),
        env=TextEnvConfig(max_prompt_len=24, max_new_tokens=6),
        actor_optim=OptimConfig(learning_rate=1e-3),
        critic_optim=OptimConfig(learning_rate=1e-3),
        batch_size=4,
        iterations=3,
        checkpoint_every=1,
        sample_every=1,
        run_dir=str(out),
        progress=False,
        torch_threads=1,
    )
    return replace(base, **changes)


def params(directory: Path) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(directory)
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_a_run_writes_models_logs_and_metrics(step_dirs, tmp_path) -> None:
    history = run_ppo(config(step_dirs, tmp_path))
    assert len(history) == 3
    for key in (
        "loss/policy", "loss/value", "objective/score", "objective/kl", "policy/entropy",
        "policy/clipfrac", "rollout/response_length", "rollout/eos_rate", "objective/kl_coef",
    ):  # fmt: skip
        assert key in history[-1] or key.replace("policy/entropy", "loss/entropy") in history[-1]
    assert history[0]["objective/kl"] == pytest.approx(0.0, abs=1e-5)  # actor == reference
    assert (tmp_path / "actor" / "config.json").is_file()
    assert (tmp_path / "critic" / "config.json").is_file()
    assert any((tmp_path / "tb").iterdir()) and (tmp_path / "config.yaml").is_file()
    assert [row["iteration"] for row in read_metrics(tmp_path)] == [1.0, 2.0, 3.0]
    assert not torch.equal(params(tmp_path / "actor"), params(Path(step_dirs["sft"])))


def test_stopped_and_resumed_equals_uninterrupted(step_dirs, tmp_path) -> None:
    run_ppo(config(step_dirs, tmp_path / "whole"))
    run_ppo(config(step_dirs, tmp_path / "parts"), stop_after=1)
    assert not (tmp_path / "parts" / "actor").exists()
    resumed = run_ppo(config(step_dirs, tmp_path / "parts"))
    assert [row["iteration"] for row in resumed] == [2.0, 3.0]
    assert torch.equal(params(tmp_path / "whole" / "actor"), params(tmp_path / "parts" / "actor"))
    assert len(read_metrics(tmp_path / "parts")) == 3


def test_lora_ema_unsup_adaptive_kl_and_shared_critic(step_dirs, tmp_path) -> None:
    from rlhf_text.ppo import KLConfig

    history = run_ppo(
        config(
            step_dirs,
            tmp_path,
            lora=LoraConfig(r=4, alpha=8, target_modules=["c_attn"]),
            critic=None,
            ema_decay=0.9,
            unsup_coef=0.5,
            unsup_batch_size=2,
            kl=KLConfig(controller="adaptive", target=0.001, horizon=10),
        )
    )
    assert history[0]["objective/kl"] == pytest.approx(0.0, abs=1e-5)  # adapters start at 0
    assert "loss/unsup" in history[-1]
    assert history[-1]["objective/kl_coef"] != history[0]["objective/kl_coef"]
    assert (tmp_path / "actor_ema" / "config.json").is_file()
    assert not (tmp_path / "critic").exists()
    merged = params(tmp_path / "actor")  # LoRA merged into a plain model
    assert merged.numel() == params(Path(step_dirs["sft"])).numel()


def test_ppo_learns_a_rule_reward(step_dirs, tmp_path) -> None:
    ppo = replace(TextPPOConfig(), update_epochs=4, num_minibatches=2, norm_adv=True)
    history = run_ppo(
        config(
            step_dirs, tmp_path, reward="tests.rlhf_text.test_ppo_trainer:e_count",
            iterations=40, batch_size=16, critic=None, ppo=ppo,
        )
    )  # fmt: skip
    first = sum(row["objective/score"] for row in history[:5]) / 5
    last = sum(row["objective/score"] for row in history[-5:]) / 5
    assert last > first + 1.0


def test_ppo_steps_under_deepspeed_zero2(step_dirs, tmp_path) -> None:
    pytest.importorskip("deepspeed")
    zero2 = str(Path(__file__).parents[2] / "configs" / "deepspeed" / "zero2.json")
    history = run_ppo(config(step_dirs, tmp_path, iterations=2, deepspeed=zero2))
    assert len(history) == 2 and all(row["train/grad_norm"] > 0 for row in history)
    assert (tmp_path / "actor" / "config.json").is_file()
    folder = checkpoint_folder(tmp_path)[1]
    assert (folder / "parts" / "actor" / "latest").is_file()  # DeepSpeed's own format
