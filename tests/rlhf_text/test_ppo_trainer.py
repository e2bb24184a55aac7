"""Step 3 end to end on tiny models: outputs, logging, options, exact resume."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
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


def test_unsupervised_mixing_keeps_the_lr_schedule_to_the_run(step_dirs, tmp_path) -> None:
    """With LM mixing the actor steps once more per iteration; the cosine schedule counts those
    steps, so the learning rate reaches 0 at the end of the run, not halfway."""
    cosine = OptimConfig(learning_rate=1e-3, lr_scheduler="cosine")
    history = run_ppo(
        config(step_dirs, tmp_path, iterations=4, unsup_coef=0.5, unsup_batch_size=2,
               actor_optim=cosine)
    )  # fmt: skip
    lrs = [row["train/lr"] for row in history]  # before each iteration's rollout
    assert lrs[0] == pytest.approx(1e-3)
    assert lrs[-1] > 1e-4  # 3 of 4 iterations done: half a cosine's last quarter remains


def test_unsupervised_step_counts_positions_from_the_first_real_token(step_dirs) -> None:
    """The actor's tokenizer pads on the left; the LM step must give position 0 to each
    text's first real token, as an unpadded forward pass does."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlhf_text.ppo_trainer import _unsup_step

    tokenizer = AutoTokenizer.from_pretrained(step_dirs["sft"])
    tokenizer.padding_side = "left"
    actor = AutoModelForCausalLM.from_pretrained(step_dirs["sft"])
    seen: list[torch.Tensor] = []

    class Engine:
        def backward(self, loss: torch.Tensor) -> None:
            pass

        def step(self) -> float:
            return 0.0

    class Models:
        device = torch.device("cpu")
        actor_engine = Engine()

    models = Models()
    models.tokenizer = tokenizer
    models.policy = type("Policy", (), {"actor": actor})()
    original = actor.forward

    def spy(*args, **kwargs):
        seen.append(kwargs["position_ids"])
        return original(*args, **kwargs)

    actor.forward = spy
    _unsup_step(models, ["a short one", "a somewhat longer text than that"], 1.0, 32)
    (positions,) = seen
    lengths = [len(tokenizer(t + tokenizer.eos_token)["input_ids"]) for t in ["a short one"]]
    assert positions[0, -lengths[0] :].tolist() == list(range(lengths[0]))
    assert positions[1, 0] == 0


def test_top_k_or_top_p_sampling_is_refused_for_ppo(step_dirs, tmp_path) -> None:
    from rlhf_text.policy import SamplingConfig

    for sampling in (SamplingConfig(top_k=5), SamplingConfig(top_p=0.9)):
        with pytest.raises(ValueError, match="off-policy"):
            config(step_dirs, tmp_path, sampling=sampling)


def test_a_resume_under_another_config_is_refused(step_dirs, tmp_path) -> None:
    from agents.config import ConfigError

    run_ppo(config(step_dirs, tmp_path), stop_after=1)
    before = (tmp_path / "config.yaml").read_text()
    with pytest.raises(ConfigError, match=r"seed changed.*--allow-config-change"):
        run_ppo(config(step_dirs, tmp_path, seed=7))
    assert (tmp_path / "config.yaml").read_text() == before
    assert len(run_ppo(config(step_dirs, tmp_path, seed=7), allow_config_change=True)) == 2


def test_exact_kl_is_the_divergence_of_the_whole_distributions(tiny_tokenizer) -> None:
    from rlhf_text.ppo import exact_token_kl
    from rlhf_text.report import kl_to_reference
    from rlhf_text.tiny import TinyModelConfig, tiny_causal_lm

    small = TinyModelConfig(n_layer=1, n_embd=32, n_head=2, n_positions=64)
    model, other = tiny_causal_lm(tiny_tokenizer, small), tiny_causal_lm(tiny_tokenizer, small, 1)
    ids = torch.randint(0, len(tiny_tokenizer), (3, 10))
    mask = torch.ones_like(ids)
    assert torch.equal(exact_token_kl(model, model, ids, mask, 4), torch.zeros(3, 4))
    kl = exact_token_kl(model, other, ids, mask, 4)
    with torch.no_grad():  # the definition, position by position
        p = torch.log_softmax(model(ids).logits[:, 5:9].float(), -1)
        q = torch.log_softmax(other(ids).logits[:, 5:9].float(), -1)
    torch.testing.assert_close(kl, (p.exp() * (p - q)).sum(-1))
    assert (kl > 0).all()
    # per response, summed over its tokens: never negative, whatever the sampled tokens
    responses = [torch.tensor([5, 6, 7]), torch.tensor([9]), torch.tensor([], dtype=torch.long)]
    prompts = ["Human: hi? Assistant:", "Human: why? Assistant:", "Human: no? Assistant:"]
    per_response = kl_to_reference(model, other, tiny_tokenizer, prompts, responses)
    assert per_response > 0
    # batched with left padding = one row at a time, each summed over its own response only
    one_by_one = [
        kl_to_reference(model, other, tiny_tokenizer, [p], [r])
        for p, r in zip(prompts, responses, strict=True)
    ]
    assert per_response == pytest.approx(np.mean(one_by_one), rel=1e-4)
    assert one_by_one[2] == 0.0 and one_by_one[0] > 0
    assert kl_to_reference(model, model, tiny_tokenizer, prompts, responses) == 0.0


def test_ppo_logs_the_exact_kl(step_dirs, tmp_path) -> None:
    history = run_ppo(config(step_dirs, tmp_path, iterations=2))
    assert history[0]["objective/kl_exact"] == pytest.approx(0.0, abs=1e-6)  # actor == ref
    assert all(row["objective/kl_exact"] >= 0.0 for row in history)
    assert history[1]["objective/kl_exact"] > 0.0


def test_ppo_logs_degeneration_and_an_independent_judge(step_dirs, tmp_path) -> None:
    history = run_ppo(config(step_dirs, tmp_path, judge="gold", judge_window=2))
    for key in (
        "degeneration/repeated_ngram_rate", "degeneration/distinct_1", "degeneration/distinct_2",
        "degeneration/mean_words", "judge/score", "judge/overoptimisation",
        "judge/best_iteration",
    ):  # fmt: skip
        assert all(key in row for row in history), key
    assert all(0.0 <= row["degeneration/distinct_1"] <= 1.0 for row in history)
    # the local file is not the embedded data: 'auto' uses no judge there
    auto = run_ppo(config(step_dirs, tmp_path / "auto", iterations=1))
    assert "judge/score" not in auto[0] and "degeneration/distinct_1" in auto[0]
    with pytest.raises(ValueError, match="judge must be"):
        config(step_dirs, tmp_path, judge=" ")
    with pytest.raises(FileNotFoundError, match="judge: no reward-model directory at llm"):
        run_ppo(config(step_dirs, tmp_path / "llm", judge="llm", iterations=1))


def test_a_reward_model_directory_is_a_judge(step_dirs, tmp_path) -> None:
    history = run_ppo(config(step_dirs, tmp_path, judge=step_dirs["rm"], iterations=2))
    assert all(np.isfinite(row["judge/score"]) for row in history)
    # the judge here is the training reward model itself: the two scores agree
    assert history[0]["judge/score"] == pytest.approx(history[0]["objective/score"], abs=1e-4)


def test_judge_stop_ends_at_the_warning_and_keeps_the_best_judged_actor(
    step_dirs, tmp_path, monkeypatch
) -> None:
    """A judge that falls while the training score rises (forced here: the judge scores the
    iteration number down) stops the run, writes its outputs, and a rerun stays stopped."""
    from rlhf_text import judge as judge_module

    calls = [0]

    def falling(self, prompts, responses):
        calls[0] += 1
        return np.full(len(responses), -float(calls[0]))

    monkeypatch.setattr(judge_module.GoldJudge, "score", falling)
    rising = iter(range(100))
    monkeypatch.setattr(
        "rlhf_text.ppo_trainer.TextPPOParts._training_score", lambda self: float(next(rising))
    )
    run = config(step_dirs, tmp_path, iterations=8, judge="gold", judge_window=2,
                 judge_stop=True)  # fmt: skip
    history = run_ppo(run)
    assert len(history) == 2 and history[-1]["judge/overoptimisation"] == 1.0
    assert history[-1]["judge/best_iteration"] == 1.0
    assert (tmp_path / "actor" / "config.json").is_file()  # written as for a finished run
    assert (tmp_path / "actor_best" / "config.json").is_file()
    assert run_ppo(run) == []  # resumed: still stopped


def test_frozen_trunks_recorded_once_per_iteration_change_no_number(
    step_dirs, tmp_path, tiny_tokenizer
) -> None:
    """The reference replaying the actor's frozen trunk, and every update epoch replaying the
    actor's and critic's own, give the same run as full passes: same KL, losses and values,
    over two epochs of two minibatches (rows whose left padding differs from the batch's)."""
    from rlhf_text import ppo_models
    from rlhf_text.freeze import transformer_blocks
    from rlhf_text.tiny import TinyModelConfig, tiny_causal_lm, tiny_value_model

    deeper = TinyModelConfig(n_layer=3, n_embd=32, n_head=2, n_positions=64)
    for name, build in (("sft", tiny_causal_lm), ("rm", tiny_value_model)):
        build(tiny_tokenizer, deeper).save_pretrained(tmp_path / name)
        tiny_tokenizer.save_pretrained(tmp_path / name)
    actor = ModelConfig(name_or_path=str(tmp_path / "sft"), train_layers=1)
    critic = ModelConfig(name_or_path=str(tmp_path / "rm"), train_layers=1)
    counts, bottom_calls = [], []
    build = ppo_models.build_models

    def recording_build(*args, **kwargs):
        models = build(*args, **kwargs)
        policy = models.policy
        counts.append((models.shared_blocks, policy.actor_trunk_blocks, policy.critic_trunk_blocks))
        calls = {"actor": 0, "critic": 0}
        bottom_calls.append(calls)
        for role in calls:
            block = transformer_blocks(getattr(policy, role))[0]
            block.register_forward_hook(
                lambda *_, role=role: calls.__setitem__(role, calls[role] + 1)
            )
        return models

    two_by_two = replace(TextPPOConfig(), update_epochs=2, num_minibatches=2)
    run = config(step_dirs, tmp_path / "replayed", actor=actor, critic=critic, ppo=two_by_two)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("rlhf_text.ppo_trainer.build_models", recording_build)
        replayed = run_ppo(replace(run, iterations=2))
        patch.setattr(ppo_models, "shared_frozen_blocks", lambda actor, reference: 0)
        patch.setattr(ppo_models, "frozen_bottom_blocks", lambda model: 0)
        full = run_ppo(replace(run, iterations=2, run_dir=str(tmp_path / "full")))
    assert counts == [(2, 2, 2), (0, 0, 0)]
    # 2 iterations x 2 epochs x 2 minibatches: passes the replay spares each bottom block
    assert {
        role: full_calls - bottom_calls[0][role] for role, full_calls in bottom_calls[1].items()
    } == {"actor": 8, "critic": 8}
    for key in ("objective/kl_exact", "objective/kl", "loss/policy", "loss/value"):
        assert [r[key] for r in replayed] == pytest.approx([r[key] for r in full], abs=1e-5), key
