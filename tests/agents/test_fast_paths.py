"""The arm's fast paths give what the plain definitions give.

Each shortcut in the per-step and per-minibatch code (see benchmarks/arm_step_cost.py for
what they save) is checked against the straightforward form it replaces.
"""

import dataclasses

import numpy as np
import pytest
import torch

from agents import GaussianActorCritic, PPOConfig, collect_rollout, ppo_update, start_collection
from agents.gae import compute_gae
from agents.gaussian import gaussian_log_prob
from agents.losses import PPOLossTerms, masked_whiten
from agents.normalize import RunningNormalizer
from tests.agents.toy_envs import make_point_env, point_rollout


def _policy(seed: int = 0) -> GaussianActorCritic:
    torch.manual_seed(seed)
    return GaussianActorCritic(4, 2, hidden=(16, 16))


def _plain_mlps(policy: GaussianActorCritic) -> tuple[torch.nn.Sequential, torch.nn.Sequential]:
    """The actor and critic as two ordinary ``Sequential(Linear, Tanh, ..., Linear)``s holding
    copies of the policy's stacked weights (the old, separate layout)."""
    nets = []
    for which, head in enumerate((policy.actor_head, policy.critic_head)):
        layers: list[torch.nn.Module] = []
        for weight, bias in zip(policy.hidden_weights, policy.hidden_biases, strict=True):
            linear = torch.nn.Linear(*weight.shape[1:])
            with torch.no_grad():
                linear.weight.copy_(weight[which].T)
                linear.bias.copy_(bias[which, 0])
            layers += [linear, torch.nn.Tanh()]
        linear = torch.nn.Linear(head.in_features, head.out_features)
        linear.load_state_dict(head.state_dict())
        nets.append(torch.nn.Sequential(*layers, linear))
    return nets[0], nets[1]


def test_stacked_networks_equal_two_separate_mlps() -> None:
    policy = _policy()
    actor, critic = _plain_mlps(policy)
    obs, actions = torch.randn(5, 3, 4), torch.randn(5, 3, 2)
    features = policy._features(obs)
    out = policy.evaluate(obs, actions)
    torch.testing.assert_close(out.values, critic(features).squeeze(-1))
    torch.testing.assert_close(
        out.logprobs, gaussian_log_prob(actions, actor(features), policy.log_std)
    )
    torch.testing.assert_close(policy.value(obs), critic(features).squeeze(-1))
    flat = obs.reshape(15, 4)
    mean = policy.act(flat, deterministic=True).actions
    torch.testing.assert_close(mean, actor(policy._features(flat)))


def test_a_checkpoint_of_separate_mlps_loads_into_the_stacked_layout() -> None:
    """state_dicts saved before the stacking (actor_mean.*, critic.*) still load."""
    trained, fresh = _policy(seed=0), _policy(seed=1)
    actor, critic = _plain_mlps(trained)
    old = {k: v for k, v in trained.state_dict().items() if k.startswith(("log_std", "normal"))}
    old.update({f"actor_mean.{k}": v for k, v in actor.state_dict().items()})
    old.update({f"critic.{k}": v for k, v in critic.state_dict().items()})
    fresh.load_state_dict(old)  # strict: every key mapped, none left over
    for key, value in trained.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value, rtol=0, atol=0)


def test_sampled_logprobs_from_the_noise_equal_the_density_of_the_actions() -> None:
    policy = _policy()
    with torch.no_grad():
        policy.log_std.copy_(torch.tensor([-0.7, 0.4]))
    obs = torch.randn(50, 4)
    out = policy.act(obs)
    mean = policy.act(obs, deterministic=True).actions
    torch.testing.assert_close(out.logprobs, gaussian_log_prob(out.actions, mean, policy.log_std))


def _acts(policy: GaussianActorCritic, obs: torch.Tensor, deterministic: bool = False):
    """``act`` through numpy (no autograd) and through torch (autograd on), same noise."""
    out = []
    for grad in (False, True):
        torch.manual_seed(7)
        with torch.set_grad_enabled(grad):
            out.append(policy.act(obs, deterministic=deterministic))
    return out


@pytest.mark.parametrize("deterministic", [False, True])
def test_act_without_autograd_runs_in_numpy_and_equals_the_torch_path(
    deterministic: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = _policy()
    policy.update_normalizer(torch.randn(200, 4) * 3 + 1)
    with torch.no_grad():
        policy.log_std.copy_(torch.tensor([-0.7, 0.4]))
    obs = torch.randn(9, 4) * 40  # some features beyond the normaliser's clip
    fast, plain = _acts(policy, obs, deterministic)
    torch.testing.assert_close(fast.actions, plain.actions.detach())
    torch.testing.assert_close(fast.logprobs, plain.logprobs.detach())
    assert fast.actions.dtype == fast.logprobs.dtype == torch.float32

    def torch_forward(*args):
        raise AssertionError("act ran torch's forward pass")

    monkeypatch.setattr(policy, "_half", torch_forward)
    with torch.no_grad():
        policy.act(obs, deterministic=deterministic)  # numpy: _half is never called


def test_numpy_act_follows_in_place_steps_moved_storage_and_replaced_parameters() -> None:
    from agents.flat import flatten_parameters

    policy, other = _policy(seed=0), _policy(seed=1)
    obs = torch.randn(6, 4)

    def check() -> None:
        fast, plain = _acts(policy, obs)
        torch.testing.assert_close(fast.actions, plain.actions.detach())

    check()  # the views are made here
    with torch.no_grad():
        policy.actor_head.weight.add_(0.5)  # an optimiser's in-place step
    check()
    flat = flatten_parameters(policy)  # every parameter moves into one buffer
    check()
    with torch.no_grad():
        flat.add_(0.1)  # the optimiser steps the buffer
    check()
    policy.update_normalizer(torch.randn(50, 4) * 2)
    check()
    policy.load_state_dict(other.state_dict(), assign=True)  # new Parameter objects
    check()
    torch.testing.assert_close(
        _acts(policy, obs, deterministic=True)[0].actions,
        _acts(other, obs, deterministic=True)[0].actions,
    )
    policy.double()
    assert policy._numpy_views() is None  # float64: act keeps to torch
    policy.float()
    check()


def test_rollout_values_come_from_one_critic_pass_that_equals_per_step_values() -> None:
    env, policy = make_point_env(2), _policy()
    assert policy.act(torch.zeros(2, 4)).values is None  # the critic is not run per step
    batch, state, _ = collect_rollout(env, policy, 45, start_collection(env, seed=0))
    per_step = torch.stack([policy.value(batch.observations[:, t]) for t in range(45)], 1)
    torch.testing.assert_close(batch.values, per_step)
    last = policy.value(torch.as_tensor(state.observations, dtype=torch.float32))
    torch.testing.assert_close(batch.next_values[:, -1], last)
    torch.testing.assert_close(batch.next_values[:, :-1], batch.values[:, 1:])


def test_normalizer_cache_follows_update_and_load_state_dict() -> None:
    trained, fresh = RunningNormalizer((3,)), RunningNormalizer((3,))
    trained.update(torch.randn(100, 3, dtype=torch.float64) * 5 + 2)
    x = torch.randn(7, 3)
    plain = ((x - trained.mean.float()) / torch.sqrt(trained.var.float() + trained.eps)).clamp(
        -10, 10
    )
    torch.testing.assert_close(trained(x), plain, rtol=0, atol=0)
    assert not torch.equal(fresh(x), plain)
    fresh.load_state_dict(trained.state_dict())
    torch.testing.assert_close(fresh(x), plain, rtol=0, atol=0)
    assert "_mean32" not in trained.state_dict()  # the cache is not saved
    torch.testing.assert_close(trained(x.double()), plain.double(), rtol=1e-6, atol=1e-6)


def test_whiten_without_mask_equals_whiten_with_a_mask_of_ones() -> None:
    x = torch.randn(64, 1) * 3 + 1
    torch.testing.assert_close(masked_whiten(x, None), masked_whiten(x, torch.ones_like(x)))


def test_gae_equals_the_definition_step_by_step() -> None:
    rng = torch.Generator().manual_seed(0)
    b, t, gamma, lam = 3, 30, 0.97, 0.9
    rewards, values, next_values = (torch.randn(b, t, generator=rng) for _ in range(3))
    terminated = torch.rand(b, t, generator=rng) < 0.05
    truncated = torch.rand(b, t, generator=rng) < 0.05
    mask = (torch.rand(b, t, generator=rng) > 0.1).float()
    advantages, returns = compute_gae(
        rewards, values, next_values, terminated, truncated, mask, gamma, lam
    )
    expected = torch.zeros(b, t)
    for row in range(b):
        carry = 0.0
        for step in reversed(range(t)):
            if not mask[row, step]:
                continue
            not_done = 1.0 - float(terminated[row, step] or truncated[row, step])
            bootstrap = 0.0 if terminated[row, step] else gamma * float(next_values[row, step])
            delta = float(rewards[row, step]) + bootstrap - float(values[row, step])
            carry = delta + gamma * lam * not_done * carry
            expected[row, step] = carry
    torch.testing.assert_close(advantages, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(returns, (expected + values) * mask, rtol=1e-5, atol=1e-5)
    assert advantages.is_contiguous() and returns.is_contiguous()


def test_update_drops_masked_steps_once_so_their_contents_never_matter() -> None:
    env, policy = make_point_env(2), _policy()
    batch, _, _ = collect_rollout(env, policy, 45, start_collection(env, seed=0))
    config = PPOConfig(update_epochs=2, num_minibatches=4)
    batch.advantages, batch.returns = compute_gae(
        batch.rewards, batch.values, batch.next_values, batch.terminated, batch.truncated,
        batch.mask, config.gamma, config.gae_lambda,
    )  # fmt: skip
    assert (batch.mask == 0).sum() == 4  # the two reset steps of each row
    poisoned = dataclasses.replace(
        batch,
        observations=torch.where(batch.mask[..., None] > 0, batch.observations, torch.nan),
        advantages=torch.where(batch.mask > 0, batch.advantages, torch.nan),
        returns=torch.where(batch.mask > 0, batch.returns, torch.inf),
    )
    results = []
    for data in (batch, poisoned):
        model = _policy()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        metrics = ppo_update(model, optimizer, data, config, torch.Generator().manual_seed(1))
        results.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
        # 86 real steps in minibatches of 86 // 4 = 21
        assert metrics["train/minibatches"] == 8 and np.isfinite(metrics["loss/value"])
    assert torch.isfinite(results[0]).all()
    torch.testing.assert_close(results[0], results[1], rtol=0, atol=0)


def test_total_loss_leaves_a_zero_weight_entropy_out_of_the_graph() -> None:
    def grads(ent_coef: float) -> tuple[torch.Tensor | None, torch.Tensor]:
        log_std = torch.zeros(2, requires_grad=True)
        x = torch.ones(2, requires_grad=True)
        terms = PPOLossTerms(
            policy_loss=x.sum(), value_loss=(x**2).sum(), entropy=log_std.sum(),
            approx_kl=torch.tensor(0.0), clipfrac=torch.tensor(0.0),
        )  # fmt: skip
        terms.total(vf_coef=0.5, ent_coef=ent_coef).backward()
        return log_std.grad, x.grad

    log_std_grad, x_grad = grads(0.0)
    assert log_std_grad is None and torch.equal(x_grad, torch.full((2,), 2.0))
    log_std_grad, x_grad = grads(0.1)
    torch.testing.assert_close(log_std_grad, torch.full((2,), -0.1))
    assert torch.equal(x_grad, torch.full((2,), 2.0))


def test_numpy_tanh_equals_torch_tanh_forward_and_backward() -> None:
    from agents.gaussian import tanh

    for dtype in (torch.float32, torch.float64):
        x = (torch.randn(37, 64, dtype=dtype) * 4).requires_grad_()  # numpy: >= 2048
        expected = torch.tanh(x)
        got = tanh(x)
        torch.testing.assert_close(got, expected)
        grad = torch.randn_like(x)
        (expected_grad,) = torch.autograd.grad(expected, x, grad)
        (got_grad,) = torch.autograd.grad(got, x, grad)
        torch.testing.assert_close(got_grad, expected_grad)
        with torch.no_grad():
            torch.testing.assert_close(tanh(x), expected.detach())
    scalar = torch.tensor(0.3)
    torch.testing.assert_close(tanh(scalar), torch.tanh(scalar))  # 0-d stays a tensor
    half = torch.randn(4, dtype=torch.bfloat16)
    assert torch.equal(tanh(half), torch.tanh(half))  # numpy has no bfloat16: torch's kernel
    strided = torch.randn(64, 80)[:, ::2]
    torch.testing.assert_close(tanh(strided), torch.tanh(strided))


def test_flat_parameters_are_views_that_train_like_separate_ones() -> None:
    from agents.flat import FlatParameter, flatten_parameters
    from agents.ppo import TorchStepper

    plain, flat_policy = _policy(seed=3), _policy(seed=3)
    before = {k: v.clone() for k, v in flat_policy.state_dict().items()}
    flat = flatten_parameters(flat_policy)
    assert isinstance(flat, FlatParameter)
    assert flat.numel() == sum(p.numel() for p in plain.parameters())
    for key, value in flat_policy.state_dict().items():  # same values, same keys
        assert torch.equal(value, before[key]), key
    for param in flat_policy.parameters():  # views of the one buffer and its gradient
        assert param.untyped_storage().data_ptr() == flat.untyped_storage().data_ptr()
        assert param.grad.untyped_storage().data_ptr() == flat.grad.untyped_storage().data_ptr()

    batch = point_rollout(plain)
    config = PPOConfig(update_epochs=3, num_minibatches=4)
    plain_optimizer = torch.optim.Adam(plain.parameters(), lr=1e-3, eps=1e-5)
    flat_optimizer = torch.optim.Adam([flat], lr=1e-3, eps=1e-5)
    plain_metrics = ppo_update(
        plain, plain_optimizer, batch, config, torch.Generator().manual_seed(1)
    )
    flat_metrics = ppo_update(
        flat_policy, TorchStepper(flat_optimizer), batch, config, torch.Generator().manual_seed(1)
    )
    # 12 steps: equal but for the rounding of the one-tensor gradient norm
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(flat_policy.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    assert flat_metrics["train/grad_norm"] == pytest.approx(plain_metrics["train/grad_norm"])
    # a state_dict loads back into the views, so the optimiser's buffer sees it
    flat_policy.load_state_dict(before)
    pieces = torch.cat([param.detach().flatten() for param in flat_policy.parameters()])
    assert torch.equal(flat.detach(), pieces)
    assert torch.equal(flat_policy.hidden_weights[0].detach(), before["hidden_weights.0"])


def test_flatten_parameters_refuses_what_cannot_share_a_buffer() -> None:
    from agents.flat import flatten_parameters

    with pytest.raises(ValueError, match="no trainable parameters"):
        flatten_parameters(torch.nn.ReLU())
    mixed = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2).double())
    with pytest.raises(ValueError, match="several dtypes or devices"):
        flatten_parameters(mixed)


@pytest.mark.parametrize("max_norm", [0.05, 1e6, float("inf")])
def test_flat_clip_is_torchs_clip_grad_norm(max_norm: float) -> None:
    from agents.flat import flatten_parameters

    flat_policy, plain = _policy(seed=4), _policy(seed=4)
    flat = flatten_parameters(flat_policy)
    obs, actions = torch.randn(7, 1, 4), torch.randn(7, 1, 2)
    for policy in (flat_policy, plain):
        out = policy.evaluate(obs, actions)
        (out.logprobs.sum() + out.values.pow(2).sum()).backward()
    expected = torch.nn.utils.clip_grad_norm_(list(plain.parameters()), max_norm)
    norm = flat.clip_grad_norm_(max_norm)
    torch.testing.assert_close(norm, expected)
    clipped = torch.cat([p.grad.flatten() for p in plain.parameters()])
    torch.testing.assert_close(flat.grad, clipped)


def test_direct_fused_adam_steps_as_torch_and_yields_to_hooks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agents.flat import flatten_parameters, step_optimizer

    flats = [flatten_parameters(_policy(seed=5)) for _ in range(2)]
    direct, plain = (torch.optim.Adam([f], lr=1e-2, eps=1e-5, fused=True) for f in flats)
    rng = torch.Generator().manual_seed(0)
    for step in range(5):
        grad = torch.randn(flats[0].shape, generator=rng)
        for flat, optimizer in zip(flats, (direct, plain), strict=True):
            flat.grad.copy_(grad)
            optimizer.param_groups[0]["lr"] = 1e-2 * (1 - step / 5)  # as lr annealing does
        step_optimizer(direct)
        plain.step()
    assert torch.equal(flats[0], flats[1])  # bit for bit
    for key in ("step", "exp_avg", "exp_avg_sq"):
        assert torch.equal(direct.state[flats[0]][key], plain.state[flats[1]][key]), key

    def torch_step(*args, **kwargs):
        raise AssertionError("Adam.step ran")

    monkeypatch.setattr(torch.optim.Adam, "step", torch_step)
    step_optimizer(direct)  # the kernel, not Adam.step
    direct.register_step_post_hook(lambda *args: None)
    with pytest.raises(AssertionError, match="Adam.step ran"):
        step_optimizer(direct)  # a hook: torch's own step, which runs it
    with pytest.raises(AssertionError, match="Adam.step ran"):
        step_optimizer(torch.optim.Adam([torch.nn.Parameter(torch.ones(3))], fused=True))
