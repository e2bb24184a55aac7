"""The closed-form PPO gradient of GaussianActorCritic equals autograd's, and ppo_update uses it
only where it holds."""

from __future__ import annotations

import pytest
import torch

from agents import GaussianActorCritic, PPOConfig, ppo_update
from agents.flat import flatten_parameters
from agents.losses import ppo_losses
from agents.ppo import TorchStepper
from tests.agents.toy_envs import point_rollout

_METRICS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac")


def _policy(
    hidden: tuple[int, ...], seed: int = 0, normalize: bool = True, dims: tuple = (5, 3)
) -> GaussianActorCritic:
    torch.manual_seed(seed)
    policy = GaussianActorCritic(*dims, hidden=hidden, init_log_std=-0.3,
                                 normalize_observations=normalize)  # fmt: skip
    with torch.no_grad():  # off the initialisation: nonzero biases, unequal log-stds
        for param in policy.parameters():
            param.add_(0.2 * torch.randn_like(param))
    if normalize:
        policy.update_normalizer(3.0 * torch.randn(500, dims[0]) + 1.0)
    return policy


def _minibatch(policy: GaussianActorCritic, n: int = 64, spread: float = 0.5) -> dict:
    """A ``[n, 1]`` minibatch whose old log-probs are off by up to ``spread`` (so some ratios
    fall outside the clip range)."""
    observations, actions = 2.0 * torch.randn(n, 1, 5), torch.randn(n, 1, 3)
    with torch.no_grad():
        logprobs = policy.evaluate(observations, actions).logprobs
    return {
        "observations": observations,
        "actions": actions,
        "logprobs": logprobs + spread * torch.randn(n, 1),
        "values": torch.randn(n, 1),
        "returns": torch.randn(n, 1),
        "mask": None,
        "extras": {},
    }


def _autograd(policy, mb, advantages, clip_coef, vf_coef, ent_coef):
    for param in policy.parameters():
        param.grad = None
    new = policy.evaluate(mb["observations"], mb["actions"])
    terms = ppo_losses(new.logprobs, mb["logprobs"], advantages, new.values, mb["values"],
                       mb["returns"], new.entropy, None, clip_coef)  # fmt: skip
    terms.total(vf_coef, ent_coef).backward()
    grads = {name: p.grad.clone() for name, p in policy.named_parameters()}
    return terms, grads


@pytest.mark.parametrize(
    "hidden, normalize, clip_coef, vf_coef, ent_coef",
    [
        ((16, 16), True, 0.2, 0.5, 0.0),
        ((16, 16), True, 0.1, 1.0, 0.01),  # a tight clip: many clipped ratios; an entropy bonus
        ((8, 12, 16), False, 0.3, 0.25, 0.003),  # three layers of different widths
        ((16,), True, 0.2, 0.5, 0.0),
        ((), True, 0.2, 0.5, 0.02),  # no hidden layer: linear heads on the features
    ],
)
def test_closed_form_loss_and_gradient_equal_autograds(
    hidden, normalize, clip_coef, vf_coef, ent_coef
) -> None:
    policy = _policy(hidden, normalize=normalize)
    mb = _minibatch(policy)
    advantages = torch.randn(64, 1)
    terms, expected = _autograd(policy, mb, advantages, clip_coef, vf_coef, ent_coef)
    assert 0.05 < terms.clipfrac.item() < 0.95  # both branches of the clipped surrogate occur

    for param in policy.parameters():
        param.grad = torch.full_like(param, 7.0)  # stale gradients are replaced, not added to
    losses = policy.ppo_loss_and_grad(mb, advantages, clip_coef, vf_coef, ent_coef)
    for name in _METRICS:
        assert getattr(losses, name) == pytest.approx(getattr(terms, name).item(), rel=1e-5,
                                                      abs=1e-6), name  # fmt: skip
    for name, param in policy.named_parameters():
        torch.testing.assert_close(param.grad, expected[name], rtol=1e-4, atol=1e-6, msg=name)


def test_closed_form_writes_into_a_flat_gradient_buffer() -> None:
    policy = _policy((16, 16))
    mb, advantages = _minibatch(policy), torch.randn(64, 1)
    _, expected = _autograd(policy, mb, advantages, 0.2, 0.5, 0.0)
    flat = flatten_parameters(policy)
    flat.grad.fill_(3.0)
    policy.ppo_loss_and_grad(mb, advantages, 0.2, 0.5, 0.0)
    pieces = torch.cat([expected[name].flatten() for name, _ in policy.named_parameters()])
    torch.testing.assert_close(flat.grad, pieces, rtol=1e-4, atol=1e-6)
    for param in policy.parameters():  # still views of the buffer
        assert param.grad.untyped_storage().data_ptr() == flat.grad.untyped_storage().data_ptr()


@pytest.mark.parametrize("case", ["mask", "value_clip", "float64", "frozen", "dict_observations"])
def test_closed_form_declines_what_it_does_not_cover(case: str) -> None:
    policy = _policy((16, 16))
    mb, advantages, value_clip = _minibatch(policy), torch.randn(64, 1), None
    if case == "mask":
        mb["mask"] = torch.ones(64, 1)
    elif case == "value_clip":
        value_clip = 0.2
    elif case == "float64":
        policy = policy.double()
        mb = {k: v.double() if isinstance(v, torch.Tensor) else v for k, v in mb.items()}
        advantages = advantages.double()
    elif case == "frozen":
        policy.log_std.requires_grad_(False)
    else:
        mb["observations"] = {"obs": mb["observations"]}
    for param in policy.parameters():
        param.grad = None
    assert policy.ppo_loss_and_grad(mb, advantages, 0.2, 0.5, 0.0, value_clip) is None
    assert all(param.grad is None for param in policy.parameters())  # nothing written


def _count_calls(monkeypatch, disable: bool = False) -> list[int]:
    calls = [0]
    real = GaussianActorCritic.ppo_loss_and_grad

    def counted(self, *args, **kwargs):
        calls[0] += 1
        return None if disable else real(self, *args, **kwargs)

    monkeypatch.setattr(GaussianActorCritic, "ppo_loss_and_grad", counted)
    return calls


@pytest.mark.parametrize("flat", [False, True])
def test_ppo_update_with_the_closed_form_trains_like_autograd(monkeypatch, flat: bool) -> None:
    config = PPOConfig(update_epochs=3, num_minibatches=4, ent_coef=0.01)
    states, metrics = [], []
    for closed in (True, False):
        with monkeypatch.context() as patch:
            calls = _count_calls(patch, disable=not closed)
            policy = _policy((16, 16), seed=4, dims=(4, 2))
            batch = point_rollout(policy)
            params = [flatten_parameters(policy)] if flat else list(policy.parameters())
            optimizer = torch.optim.Adam(params, lr=1e-3, eps=1e-5)
            metrics.append(ppo_update(policy, optimizer, batch, config,
                                      torch.Generator().manual_seed(1)))  # fmt: skip
            assert calls[0] == 12  # asked on every minibatch
            states.append(policy.state_dict())
    for key, value in states[1].items():  # 12 Adam steps apart only by float rounding
        torch.testing.assert_close(states[0][key], value, rtol=1e-4, atol=1e-5, msg=key)
    for key in ("loss/policy", "loss/value", "policy/approx_kl", "train/grad_norm"):
        assert metrics[0][key] == pytest.approx(metrics[1][key], rel=1e-3, abs=1e-6), key


def test_ppo_update_keeps_autograd_when_the_optimiser_steps_other_parameters(
    monkeypatch,
) -> None:
    """An optimiser over only some of the policy's parameters, or over more, must not get
    the closed form's gradient of all of them."""
    policy = _policy((16, 16), seed=5, dims=(4, 2))
    batch = point_rollout(policy)
    config = PPOConfig(update_epochs=1, num_minibatches=2)
    extra = torch.nn.Parameter(torch.zeros(3))
    for params in ([policy.log_std], [*policy.parameters(), extra]):
        calls = _count_calls(monkeypatch)
        stepper = TorchStepper(torch.optim.SGD(params, lr=0.1))
        assert not stepper.steps_exactly(policy)
        ppo_update(policy, stepper, batch, config, torch.Generator().manual_seed(0))
        assert calls[0] == 0
    assert TorchStepper(torch.optim.SGD(policy.parameters(), lr=0.1)).steps_exactly(policy)
    other = _policy((16, 16), seed=6, dims=(4, 2))
    flatten_parameters(other)
    assert not TorchStepper(torch.optim.SGD([flatten_parameters(policy)], lr=0.1)).steps_exactly(
        other
    )
