"""Step 3's maths: where the score lands, the KL penalty, the KL controller, the stepper."""

from __future__ import annotations

import math

import pytest
import torch

from agents.collect import collect_rollout, start_collection
from agents.losses import PPOLossTerms
from envs.text_gen import TextGenVectorEnv
from rlhf_text.policy import TokenActorCritic
from rlhf_text.ppo import (
    EngineStepper,
    KLConfig,
    KLController,
    TextPPOConfig,
    compute_rewards,
    last_token_index,
    sequence_logprobs,
)


def test_the_score_lands_on_the_last_real_token_only() -> None:
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.float)
    assert last_token_index(mask).tolist() == [2, 4, 0]
    zeros = torch.zeros(3, 5)
    rewards, kl = compute_rewards(torch.tensor([1.0, -2.0, 0.5]), zeros, zeros, mask, 0.1)
    expected = torch.zeros(3, 5)
    expected[0, 2], expected[1, 4], expected[2, 0] = 1.0, -2.0, 0.5
    torch.testing.assert_close(rewards, expected)
    assert kl.abs().sum() == 0


def test_kl_penalty_on_every_real_token_and_score_clipped() -> None:
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    logprobs = torch.tensor([[-1.0, -2.0, -0.5, -9.0]])
    ref_logprobs = torch.tensor([[-1.5, -1.0, -0.5, -1.0]])
    rewards, kl = compute_rewards(torch.tensor([12.0]), logprobs, ref_logprobs, mask, 0.1, 5.0)
    # k1 = logp - ref_logp = [0.5, -1, 0, (padding)]
    torch.testing.assert_close(kl, torch.tensor([[0.5, -1.0, 0.0, 0.0]]))
    torch.testing.assert_close(rewards, torch.tensor([[-0.05, 0.1, 5.0, 0.0]]))  # clip 12 -> 5
    unclipped, _ = compute_rewards(torch.tensor([12.0]), logprobs, ref_logprobs, mask, 0.1, None)
    assert unclipped[0, 2] == pytest.approx(12.0)
    k3, kl3 = compute_rewards(
        torch.tensor([0.0]), logprobs, ref_logprobs, mask, 1.0, estimator="k3"
    )
    assert (kl3[mask > 0] >= 0).all() and (k3[mask > 0] <= 0).all()


def test_empty_response_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        last_token_index(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))


def test_the_env_and_the_shaping_agree_on_the_token(tiny_tokenizer, tiny_lm) -> None:
    """The env pays its score on the step at last_token_index: one definition, both sides."""

    def score(prompts, responses):
        return [1.0 + len(r) for r in responses]

    env = TextGenVectorEnv(
        6, tiny_tokenizer, ["the cat", "Human: Why? Assistant:"], score, max_new_tokens=8
    )
    torch.manual_seed(0)
    batch, _, _ = collect_rollout(env, TokenActorCritic(tiny_lm), 8, start_collection(env, 0))
    nonzero = batch.rewards.nonzero()
    assert nonzero[:, 0].tolist() == list(range(6))
    assert nonzero[:, 1].tolist() == last_token_index(batch.mask).tolist()


def test_kl_controller_fixed_and_adaptive() -> None:
    fixed = KLController(KLConfig(coef=0.1))
    fixed.update(100.0, 64)
    assert fixed.value == 0.1
    adaptive = KLController(KLConfig(coef=0.1, controller="adaptive", target=6.0, horizon=1000))
    adaptive.update(12.0, 100)  # KL twice the target: error clipped to +0.2
    assert adaptive.value == pytest.approx(0.1 * (1 + 0.2 * 100 / 1000))
    adaptive.update(3.0, 100)  # half the target: error -0.5 clipped to -0.2
    assert adaptive.value == pytest.approx(0.1 * 1.02 * 0.98)
    restored = KLController(KLConfig(controller="adaptive"))
    restored.load_state_dict(adaptive.state_dict())
    assert restored.value == adaptive.value


def test_deepspeed_chat_defaults() -> None:
    config = TextPPOConfig()
    assert (config.update_epochs, config.clip_coef, config.value_clip_coef) == (1, 0.2, 0.2)
    assert (config.gamma, config.gae_lambda, config.minibatch_over) == (1.0, 0.95, "rows")
    assert KLConfig().coef == 0.1


class FakeEngine:
    def __init__(self, norm: float) -> None:
        self.losses, self.norm, self.max_norms = [], norm, []

    def backward(self, loss: torch.Tensor) -> None:
        self.losses.append(float(loss))

    def step(self, max_grad_norm: float | None = None) -> float:
        self.max_norms.append(max_grad_norm)
        return self.norm


def test_engine_stepper_gives_each_engine_its_own_loss() -> None:
    terms = PPOLossTerms(*(torch.tensor(v) for v in (1.0, 2.0, 0.5, 0.0, 0.0)))
    config = TextPPOConfig()
    config.ent_coef = 0.1
    actor, critic = FakeEngine(3.0), FakeEngine(4.0)
    assert EngineStepper(actor, critic).step(terms, config) == pytest.approx(5.0)
    assert actor.losses == [pytest.approx(1.0 - 0.1 * 0.5)]
    assert critic.losses == [pytest.approx(config.vf_coef * 2.0)]
    shared = FakeEngine(2.0)
    assert EngineStepper(shared).step(terms, config) == 2.0
    assert shared.losses == [pytest.approx(1.0 - 0.05 + config.vf_coef * 2.0)]


def test_engine_stepper_clips_to_ppo_max_grad_norm(tiny_tokenizer) -> None:
    """ppo.max_grad_norm reaches the engines: an engine with no clip of its own is clipped."""
    from rlhf_text.engine import OptimConfig, TrainEngine
    from rlhf_text.tiny import TinyModelConfig, tiny_causal_lm

    config = TextPPOConfig()
    config.max_grad_norm = 1e-3
    actor, critic = FakeEngine(1.0), FakeEngine(1.0)
    EngineStepper(actor, critic).step(_terms(), config)
    assert actor.max_norms == critic.max_norms == [1e-3]

    def stepped(optim: OptimConfig, max_grad_norm: float | None) -> torch.Tensor:
        model = tiny_causal_lm(tiny_tokenizer, TinyModelConfig(n_layer=1, n_embd=16), seed=0)
        engine = TrainEngine(model.eval(), optim, 1)
        ids = torch.tensor([tiny_tokenizer("the cat sat on the mat")["input_ids"]])
        loss = model(input_ids=ids, labels=ids).loss
        config.max_grad_norm = max_grad_norm
        terms = PPOLossTerms(loss, torch.tensor(0.0), torch.tensor(0.0), loss, loss)
        assert EngineStepper(engine).step(terms, config) > 1e-3  # so the clip bites
        return model.transformer.wte.weight.detach().clone()

    # adam_eps=1: the update scales with the (clipped) gradient instead of its sign
    unclipped = OptimConfig(max_grad_norm=None, adam_eps=1.0, lr_scheduler="constant")
    own_clip = OptimConfig(max_grad_norm=1e-3, adam_eps=1.0, lr_scheduler="constant")
    expected = stepped(own_clip, None)
    torch.testing.assert_close(stepped(unclipped, 1e-3), expected)  # ppo's clip applies
    torch.testing.assert_close(stepped(own_clip, 10.0), expected)  # the smaller one wins
    assert not torch.allclose(stepped(unclipped, None), expected)


def _terms() -> PPOLossTerms:
    return PPOLossTerms(*(torch.tensor(v) for v in (1.0, 2.0, 0.5, 0.0, 0.0)))


def test_sequence_logprobs_match_token_by_token(tiny_tokenizer, tiny_lm) -> None:
    ids = torch.tensor([tiny_tokenizer("the cat sat on the mat")["input_ids"]])
    mask = torch.ones_like(ids)
    logprobs = sequence_logprobs(tiny_lm, ids, mask, 3)
    with torch.no_grad():
        logits = tiny_lm(ids).logits.log_softmax(-1)
    for t in range(3):
        position = ids.shape[1] - 3 + t
        expected = logits[0, position - 1, ids[0, position]]
        assert math.isclose(float(logprobs[0, t]), float(expected), abs_tol=1e-5)
