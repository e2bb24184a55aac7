import math

import pytest
import torch

from agents.losses import (
    explained_variance,
    kl_penalty,
    masked_mean,
    masked_var,
    masked_whiten,
    ppo_losses,
)


def test_masked_mean_ignores_padding():
    x = torch.tensor([[1.0, 2.0, 100.0], [3.0, 100.0, 100.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert masked_mean(x, mask).item() == pytest.approx(2.0)
    torch.testing.assert_close(masked_mean(x, mask, dim=1), torch.tensor([1.5, 3.0]))


def test_masked_whiten_zero_mean_unit_var_on_real_entries():
    torch.manual_seed(0)
    x = torch.randn(4, 8) * 3 + 5
    mask = (torch.rand(4, 8) > 0.3).float()
    w = masked_whiten(x, mask)
    assert masked_mean(w, mask).item() == pytest.approx(0.0, abs=1e-5)
    assert masked_var(w, mask).item() == pytest.approx(1.0, abs=1e-4)
    assert torch.all(w[mask == 0] == 0)


def _terms(ratio_logits, advantages=None, mask=None):
    old = torch.zeros(2, 5)
    adv = torch.randn(2, 5) if advantages is None else advantages
    values = torch.randn(2, 5)
    return ppo_losses(
        old + ratio_logits,
        old,
        adv,
        values,
        values,
        values + 1.0,
        torch.ones(2, 5),
        mask,
        clip_coef=0.2,
        value_clip_coef=0.2,
    )


def test_ratio_one_gives_zero_clipfrac_and_kl():
    torch.manual_seed(0)
    terms = _terms(torch.zeros(2, 5))
    assert terms.clipfrac.item() == 0.0
    assert terms.approx_kl.item() == 0.0


def test_clipfrac_counts_ratios_outside_the_range():
    logratio = torch.log(torch.tensor([[1.5, 1.0, 1.0, 0.5, 1.1], [1.0] * 5]))
    terms = _terms(logratio)
    assert terms.clipfrac.item() == pytest.approx(2 / 10)
    # k3 is non-negative and equals (r - 1) - log r averaged
    r = logratio.exp()
    assert terms.approx_kl.item() == pytest.approx(((r - 1) - logratio).mean().item(), rel=1e-5)


def test_clipped_surrogate_value():
    # A positive advantage with ratio 1.5 is clipped at 1.2: loss = -1.2 * A.
    adv = torch.full((2, 5), 2.0)
    terms = _terms(torch.full((2, 5), math.log(1.5)), advantages=adv)
    assert terms.policy_loss.item() == pytest.approx(-1.2 * 2.0, rel=1e-5)
    # A negative advantage with ratio 1.5 is not clipped (pessimistic bound): -1.5 * A.
    terms = _terms(torch.full((2, 5), math.log(1.5)), advantages=-adv)
    assert terms.policy_loss.item() == pytest.approx(1.5 * 2.0, rel=1e-5)


def test_masked_steps_do_not_change_losses():
    torch.manual_seed(3)
    logp, old, adv = torch.randn(1, 4) * 0.1, torch.zeros(1, 4), torch.randn(1, 4)
    values, returns, ent = torch.randn(1, 4), torch.randn(1, 4), torch.rand(1, 4)
    base = ppo_losses(logp, old, adv, values, values * 0.5, returns, ent, None, 0.2, 0.2)

    def pad(x):
        return torch.cat([x, torch.randn(1, 3) * 50], 1)

    mask = torch.cat([torch.ones(1, 4), torch.zeros(1, 3)], 1)
    padded = ppo_losses(
        pad(logp),
        pad(old),
        pad(adv),
        pad(values),
        pad(values * 0.5),
        pad(returns),
        pad(ent),
        mask,
        0.2,
        0.2,
    )
    for name in ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac"):
        assert getattr(padded, name).item() == pytest.approx(getattr(base, name).item(), rel=1e-5)


def test_value_clip_takes_the_larger_loss():
    old = torch.zeros(1, 1)
    new = torch.full((1, 1), 1.0)
    target = torch.full((1, 1), 1.0)
    # unclipped error 0, clipped prediction 0.2 has error 0.8 -> max is 0.5 * 0.64
    terms = ppo_losses(old, old, old, new, old, target, old, None, 0.2, value_clip_coef=0.2)
    assert terms.value_loss.item() == pytest.approx(0.5 * 0.64)
    terms = ppo_losses(old, old, old, new, old, target, old, None, 0.2, value_clip_coef=None)
    assert terms.value_loss.item() == 0.0


def test_kl_estimators():
    logp, ref = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])
    torch.testing.assert_close(kl_penalty(logp, ref, "k1"), logp - ref)
    k3 = kl_penalty(logp, ref, "k3")
    assert torch.all(k3 >= 0)
    with pytest.raises(ValueError, match="estimator"):
        kl_penalty(logp, ref, "k9")


def test_explained_variance():
    returns = torch.randn(3, 7)
    assert explained_variance(returns, returns, None) == pytest.approx(1.0)
    assert explained_variance(
        torch.zeros_like(returns) + returns.mean(), returns, None
    ) == pytest.approx(0.0, abs=1e-6)


def test_gaussian_log_prob_and_entropy_match_torch_distributions():
    from torch.distributions import Normal

    from agents.gaussian import GaussianActorCritic

    torch.manual_seed(0)
    policy = GaussianActorCritic(3, 2, init_log_std=-0.3)
    obs, actions = torch.randn(4, 5, 3), torch.randn(4, 5, 2)
    out = policy.evaluate(obs, actions)
    mean = policy.act(obs.reshape(20, 3), deterministic=True).actions.reshape(4, 5, 2)
    dist = Normal(mean, policy.log_std.exp())
    torch.testing.assert_close(out.logprobs, dist.log_prob(actions).sum(-1))
    torch.testing.assert_close(out.entropy, dist.entropy().sum(-1))
