"""TokenActorCritic on the text env: generate-equivalence, one-pass scoring, the PPO core."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents import ActorCritic, PPOConfig, collect_rollout, compute_gae, ppo_update
from agents.collect import start_collection, to_tensor
from envs.text_gen import TextGenVectorEnv
from rlhf_text.policy import SamplingConfig, TokenActorCritic
from rlhf_text.sampling import rollout_sampler, row_uniforms, sample_tokens
from rlhf_text.tiny import TinyModelConfig, tiny_value_model

PROMPTS = ["Human: Why is the sky blue? Assistant:", "the cat", "How do I store bread?", "Water"]


def words(prompts: list[str], responses: list[str]) -> list[float]:
    return [float(len(response.split())) for response in responses]


def make_env(tokenizer, num_envs: int = 4, max_new_tokens: int = 12) -> TextGenVectorEnv:
    return TextGenVectorEnv(
        num_envs, tokenizer, PROMPTS, words, max_prompt_len=16, max_new_tokens=max_new_tokens
    )


def drive_env(policy, env, prompts, max_new_tokens, deterministic):
    """Token by token through the env; returns each row's tokens up to and with its end."""
    obs, _ = env.reset(options={"prompts": prompts})
    state, tokens, ended = None, [[] for _ in prompts], np.zeros(len(prompts), bool)
    for _ in range(max_new_tokens):
        out = policy.act(to_tensor(obs), state, deterministic=deterministic)
        state = out.state
        for row in np.flatnonzero(~ended):
            tokens[row].append(int(out.actions[row]))
        obs, _, terminated, truncated, _ = env.step(out.actions.numpy())
        ended |= terminated | truncated
        if ended.all():
            break
    return tokens


class SameUniforms:
    """Stands in for ``torch.multinomial`` inside ``generate``: the rollout's per-row uniforms
    and inverse-CDF sampling of :mod:`rlhf_text.sampling`, the sampler seeded the way the
    policy seeds it (one draw from the global RNG on the first step)."""

    def __init__(self) -> None:
        self.sampler = None

    def __call__(self, probs, num_samples):
        assert num_samples == 1
        self.sampler = self.sampler or rollout_sampler()
        return sample_tokens(probs, row_uniforms(self.sampler, len(probs), (0, 1)))[:, None]


def generate_tokens(model, tokenizer, prompts, max_new_tokens, sampling, do_sample):
    inputs = tokenizer(prompts, return_tensors="pt", padding=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch, "multinomial", SameUniforms())
        out = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=do_sample,
            temperature=sampling.temperature,
            top_k=sampling.top_k or None,
            top_p=sampling.top_p,
            pad_token_id=tokenizer.pad_token_id,
        )
    tokens = []
    for row in out[:, inputs["input_ids"].shape[1] :].tolist():
        if tokenizer.eos_token_id in row:
            row = row[: row.index(tokenizer.eos_token_id) + 1]
        tokens.append(row)
    return tokens


@pytest.mark.parametrize(
    ("sampling", "do_sample"),
    [
        (SamplingConfig(), False),
        (SamplingConfig(), True),
        (SamplingConfig(temperature=0.7, top_k=20, top_p=0.9), True),
    ],
    ids=["greedy", "sampled", "temperature-topk-topp"],
)
def test_env_driven_tokens_equal_generate(tiny_tokenizer, tiny_lm, sampling, do_sample) -> None:
    policy = TokenActorCritic(tiny_lm, sampling=sampling)
    for seed in range(3):
        torch.manual_seed(seed)
        ours = drive_env(policy, make_env(tiny_tokenizer), PROMPTS, 12, not do_sample)
        torch.manual_seed(seed)
        theirs = generate_tokens(tiny_lm, tiny_tokenizer, PROMPTS, 12, sampling, do_sample)
        assert ours == theirs


def says_eos_often(tiny_lm, tokenizer):
    """A copy of the tiny LM that says EOS often: rows end at different steps, as in real
    rollouts."""
    model = type(tiny_lm)(tiny_lm.config).eval()
    model.load_state_dict(tiny_lm.state_dict())
    head = torch.nn.Linear(model.config.n_embd, model.config.vocab_size, bias=True)
    head.weight = model.lm_head.weight
    with torch.no_grad():
        head.bias.zero_()
        head.bias[tokenizer.eos_token_id] = 4.0
    model.lm_head = head
    return model


def test_eos_within_the_batch_matches_generate(tiny_tokenizer, tiny_lm) -> None:
    model = says_eos_often(tiny_lm, tiny_tokenizer)
    policy = TokenActorCritic(model)
    lengths = set()
    for seed in range(4):
        torch.manual_seed(seed)
        ours = drive_env(policy, make_env(tiny_tokenizer), PROMPTS, 12, False)
        torch.manual_seed(seed)
        theirs = generate_tokens(model, tiny_tokenizer, PROMPTS, 12, SamplingConfig(), True)
        assert ours == theirs
        lengths |= {len(row) for row in ours}
    assert len(lengths) > 2  # rows really ended at different steps


def test_a_batch_shared_out_samples_what_one_process_samples(tiny_tokenizer, tiny_lm) -> None:
    # rows 0, 2 on one "rank" and 1, 3 on the other, each from the same seed: together
    # the tokens one process gets for all four rows, though the two rollouts end apart
    policy = TokenActorCritic(says_eos_often(tiny_lm, tiny_tokenizer))
    torch.manual_seed(5)
    whole = drive_env(policy, make_env(tiny_tokenizer), PROMPTS, 12, False)
    shares = []
    for index in range(2):
        policy.sample_shard = (index, 2)
        torch.manual_seed(5)
        env = make_env(tiny_tokenizer, num_envs=2)
        shares.append(drive_env(policy, env, PROMPTS[index::2], 12, False))
    assert [shares[i % 2][i // 2] for i in range(4)] == whole
    assert len({len(row) for row in whole}) > 1  # rows of several lengths


def test_inverse_cdf_sampling_follows_the_probabilities() -> None:
    probs = torch.tensor([[0.5, 0.0, 0.3, 0.2], [0.0, 0.0, 1.0, 0.0]])
    uniforms = torch.rand(20_000, generator=torch.Generator().manual_seed(0))
    tokens = sample_tokens(probs[[0]].expand(20_000, 4), uniforms)
    frequencies = torch.bincount(tokens, minlength=4) / 20_000
    assert torch.allclose(frequencies, probs[0], atol=0.015)  # ~4 standard errors
    # the edges: 0 and a uniform that rounds the target up to the total never take a
    # token of probability 0 (the last one here)
    edges = torch.tensor([0.0, 1.0 - 2**-24])
    assert sample_tokens(probs[[0, 0]], edges).tolist() == [0, 3]
    assert sample_tokens(probs[[1, 1]], edges).tolist() == [2, 2]
    assert sample_tokens(torch.tensor([[0.7, 0.3, 0.0]]), torch.tensor([1.0])).tolist() == [0]


def test_is_an_actor_critic(tiny_lm) -> None:
    assert isinstance(TokenActorCritic(tiny_lm), ActorCritic)


def collect(policy, env, max_new_tokens=12, seed=0):
    torch.manual_seed(seed)
    state = start_collection(env, seed=seed)
    return collect_rollout(env, policy, max_new_tokens, state, keep_observations="first_step")


def test_collect_rollout_one_episode_per_row(tiny_tokenizer, tiny_lm) -> None:
    env = make_env(tiny_tokenizer, max_new_tokens=12)
    batch, state, episodes = collect(TokenActorCritic(tiny_lm), env)
    b, t = batch.shape
    assert b == 4 and t <= 12
    assert batch.observations["input_ids"].shape == (4, 1, 28)  # first step only
    lengths = batch.mask.sum(1).long()
    assert lengths.tolist() == env.batch.response_length.tolist()
    for row, length in enumerate(lengths.tolist()):
        last = length - 1
        ended = bool(batch.terminated[row, last] or batch.truncated[row, last])
        assert ended and batch.mask[row, length:].sum() == 0
        # the env's score lands on the last real response token, nowhere else
        response = tokenizer_decode(env, batch.actions[row, :length])
        assert batch.rewards[row, last] == len(response.split())
        assert batch.rewards[row, :last].abs().sum() == 0
    assert len(episodes.returns) == 4
    assert state.reset_next.all()
    with pytest.raises(ValueError, match="start_collection"):
        collect_rollout(env, TokenActorCritic(tiny_lm), 12, state)


def tokenizer_decode(env, tokens: torch.Tensor) -> str:
    return env.tokenizer.decode(tokens.tolist(), skip_special_tokens=True)


def test_logprobs_from_act_equal_the_one_pass_evaluate(tiny_tokenizer, tiny_lm) -> None:
    sampling = SamplingConfig(temperature=0.8)
    policy = TokenActorCritic(tiny_lm, tiny_value_model(tiny_tokenizer, _small()), sampling)
    batch, _, _ = collect(policy, make_env(tiny_tokenizer))
    with torch.no_grad():
        new = policy.evaluate(batch.observations, batch.actions, batch.extras)
    real = batch.mask > 0
    torch.testing.assert_close(new.logprobs[real], batch.logprobs[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(new.values[real], batch.values[real])
    assert (new.entropy[real] > 0).all()


def _small() -> TinyModelConfig:
    return TinyModelConfig(n_layer=2, n_embd=32, n_head=2)


@pytest.mark.parametrize("separate_critic", [True, False])
def test_rollout_values_equal_the_critic_on_each_prefix(
    tiny_tokenizer, tiny_lm, separate_critic
) -> None:
    critic = tiny_value_model(tiny_tokenizer, _small(), seed=1) if separate_critic else None
    policy = TokenActorCritic(tiny_lm, critic)
    if not separate_critic:
        torch.nn.init.normal_(policy.shared_value_head.weight)
    env = make_env(tiny_tokenizer, max_new_tokens=6)
    batch, _, _ = collect(policy, env, max_new_tokens=6)
    first = {k: v[:, 0] for k, v in batch.observations.items()}
    for row in range(batch.shape[0]):
        prompt_ids = first["input_ids"][row][first["attention_mask"][row] > 0]
        for t in range(int(batch.mask[row].sum())):
            ids = torch.cat([prompt_ids, batch.actions[row, :t]])[None]
            obs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
            torch.testing.assert_close(batch.values[row, t], policy.value(obs)[0], atol=1e-5,
                                       rtol=1e-4)  # fmt: skip
            ids = torch.cat([prompt_ids, batch.actions[row, : t + 1]])[None]
            obs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
            torch.testing.assert_close(batch.next_values[row, t], policy.value(obs)[0],
                                       atol=1e-5, rtol=1e-4)  # fmt: skip


def test_ppo_update_on_text_rows(tiny_tokenizer, tiny_lm) -> None:
    actor = type(tiny_lm)(tiny_lm.config)
    actor.load_state_dict(tiny_lm.state_dict())
    policy = TokenActorCritic(actor, tiny_value_model(tiny_tokenizer, _small()))
    batch, _, _ = collect(policy, make_env(tiny_tokenizer))
    terminal = batch.terminated | batch.truncated  # the score is the whole return
    batch.advantages, batch.returns = compute_gae(
        batch.rewards, batch.values, batch.next_values, terminal, torch.zeros_like(terminal),
        batch.mask, gamma=1.0, gae_lambda=0.95,
    )  # fmt: skip
    before = [p.detach().clone() for p in policy.parameters()]
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-3)
    config = PPOConfig(update_epochs=1, num_minibatches=1, minibatch_over="rows")
    metrics = ppo_update(policy, optimizer, batch, config, torch.Generator().manual_seed(0))
    assert metrics["policy/approx_kl"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["policy/clipfrac"] == 0.0
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.parameters(), strict=True))


def test_a_shared_value_head_costs_no_pass_beyond_generation(tiny_tokenizer, tiny_lm) -> None:
    """Its values come from each step's hidden state: the actor runs once per token, plus
    one one-token step for the last value, and never over the whole rollout."""
    policy = TokenActorCritic(tiny_lm)
    torch.nn.init.normal_(policy.shared_value_head.weight)
    widths = []
    hook = tiny_lm.register_forward_pre_hook(
        lambda module, args, kwargs: widths.append(kwargs["input_ids"].shape[1]),
        with_kwargs=True,
    )
    policy.rollout_values = None  # the separate critic's whole-rollout pass must not run
    env = make_env(tiny_tokenizer, max_new_tokens=6)
    batch, _, _ = collect(policy, env, max_new_tokens=6)
    hook.remove()
    steps = batch.shape[1]
    assert len(widths) == steps + 1 and widths[1:] == [1] * steps  # the prompt, then 1 token
    assert batch.values[batch.mask > 0].abs().sum() > 0


def test_a_shared_value_head_reads_the_update_pass_of_the_log_probs(
    tiny_tokenizer, tiny_lm
) -> None:
    """evaluate runs the actor once: the values come off the LM head's input of the pass that
    gives the log-probs, equal to a pass of their own, and train the head and the actor."""
    policy = TokenActorCritic(tiny_lm)
    torch.nn.init.normal_(policy.shared_value_head.weight)
    batch, _, _ = collect(policy, make_env(tiny_tokenizer, max_new_tokens=6), max_new_tokens=6)
    calls = []
    hook = tiny_lm.register_forward_pre_hook(lambda module, args: calls.append(1))
    out = policy.evaluate(batch.observations, batch.actions)
    hook.remove()
    assert len(calls) == 1
    ids, mask, _ = policy.sequences(batch.observations, batch.actions)
    t = batch.actions.shape[1]
    with torch.no_grad():
        own_pass = policy._values(ids, mask, t + 1, {})[:, :t]
    assert torch.allclose(out.values, own_pass, atol=1e-5)
    out.values.sum().backward()
    assert policy.shared_value_head.weight.grad.abs().sum() > 0
    assert tiny_lm.transformer.h[0].attn.c_attn.weight.grad.abs().sum() > 0
    tiny_lm.zero_grad(set_to_none=True)  # the model is shared with other tests
