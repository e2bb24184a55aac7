import pytest
import torch

from agents.gae import compute_gae


def reference_gae(rewards, values, next_values, dones, terminals, gamma, lam):
    """Hand-written single-row GAE: the textbook recursion over plain Python floats."""
    advantages = [0.0] * len(rewards)
    carry = 0.0
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * next_values[t] * (1 - terminals[t]) - values[t]
        carry = delta + gamma * lam * (1 - dones[t]) * carry
        advantages[t] = carry
    return advantages


def _row(x):
    return torch.tensor([x], dtype=torch.float64)


@pytest.mark.parametrize("gamma,lam", [(0.99, 0.95), (0.9, 0.0), (0.5, 0.5), (1.0, 1.0)])
def test_constant_value_function_matches_hand_computed(gamma, lam):
    # Rewards 1 each step, V = 1 everywhere, episode ends (terminated) at the last step.
    n, v = 5, 1.0
    rewards, values = [1.0] * n, [v] * n
    terminated = [0] * (n - 1) + [1]
    adv, ret = compute_gae(
        _row(rewards),
        _row(values),
        _row(values),
        _row(terminated),
        _row([0] * n),
        gamma=gamma,
        gae_lambda=lam,
    )
    # delta_t = 1 + gamma * v - v for t < n-1 and 1 - v = 0 at the terminal step.
    deltas = [1 + gamma * v - v] * (n - 1) + [1 - v]
    expected = [sum((gamma * lam) ** k * deltas[t + k] for k in range(n - t)) for t in range(n)]
    torch.testing.assert_close(adv[0], torch.tensor(expected, dtype=torch.float64))
    torch.testing.assert_close(ret, adv + _row(values))


def test_lambda_one_is_discounted_monte_carlo():
    gamma = 0.9
    rewards = [0.5, -1.0, 2.0, 0.0, 1.5]
    values = [0.3, -0.2, 0.7, 1.1, 0.4]
    terminated = [0, 0, 0, 0, 1]
    adv, ret = compute_gae(
        _row(rewards),
        _row(values),
        _row(values[1:] + [9.0]),
        _row(terminated),
        _row([0] * 5),
        gamma=gamma,
        gae_lambda=1.0,
    )
    mc = [sum(gamma**k * rewards[t + k] for k in range(5 - t)) for t in range(5)]
    torch.testing.assert_close(ret[0], torch.tensor(mc, dtype=torch.float64))


def test_matches_reference_with_truncation_and_episode_boundaries():
    torch.manual_seed(0)
    b, t = 3, 12
    rewards, values, next_values = torch.randn(b, t), torch.randn(b, t), torch.randn(b, t)
    terminated = torch.rand(b, t) < 0.15
    truncated = (torch.rand(b, t) < 0.15) & ~terminated
    adv, _ = compute_gae(
        rewards, values, next_values, terminated, truncated, gamma=0.97, gae_lambda=0.9
    )
    for row in range(b):
        dones = (terminated[row] | truncated[row]).float().tolist()
        expected = reference_gae(
            rewards[row].tolist(),
            values[row].tolist(),
            next_values[row].tolist(),
            dones,
            terminated[row].float().tolist(),
            0.97,
            0.9,
        )
        torch.testing.assert_close(adv[row], torch.tensor(expected))


def test_infinite_horizon_truncation_bootstraps():
    # Reward 1 forever, cut by a time limit: with V = 1/(1-gamma) everywhere (the true value)
    # every advantage is 0 and the return of s0 is 1/(1-gamma), not the truncated sum.
    gamma, n = 0.98, 50
    v = 1.0 / (1.0 - gamma)
    ones = torch.ones(1, n, dtype=torch.float64)
    truncated = torch.zeros(1, n)
    truncated[0, -1] = 1
    adv, ret = compute_gae(
        ones, ones * v, ones * v, torch.zeros(1, n), truncated, gamma=gamma, gae_lambda=0.95
    )
    torch.testing.assert_close(adv, torch.zeros_like(adv))
    assert ret[0, 0].item() == pytest.approx(v)
    # Treating the cut as terminal would wrongly lose the tail's value.
    adv_wrong, _ = compute_gae(
        ones, ones * v, ones * v, truncated, torch.zeros(1, n), gamma=gamma, gae_lambda=0.95
    )
    assert adv_wrong[0, -1].item() == pytest.approx(1 - v)


def test_masked_steps_change_nothing():
    torch.manual_seed(1)
    t = 6
    rewards, values, next_values = torch.randn(1, t), torch.randn(1, t), torch.randn(1, t)
    terminated = torch.zeros(1, t, dtype=torch.bool)
    terminated[0, -1] = True
    truncated = torch.zeros(1, t, dtype=torch.bool)
    adv, ret = compute_gae(rewards, values, next_values, terminated, truncated)

    # Insert garbage masked steps in the middle (after step 2) and after the end.
    def pad(x, fill):
        return torch.cat([x[:, :3], fill, x[:, 3:], fill], dim=1)

    junk = torch.randn(1, 2) * 100
    mask = pad(torch.ones(1, t), torch.zeros(1, 2))
    adv_p, ret_p = compute_gae(
        pad(rewards, junk),
        pad(values, junk),
        pad(next_values, junk),
        pad(terminated, torch.ones(1, 2, dtype=torch.bool)),
        pad(truncated, torch.ones(1, 2, dtype=torch.bool)),
        mask,
    )
    real = mask[0] > 0
    torch.testing.assert_close(adv_p[0, real], adv[0])
    torch.testing.assert_close(ret_p[0, real], ret[0])
    assert torch.all(adv_p[0, ~real] == 0)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="values"):
        compute_gae(
            torch.zeros(2, 3),
            torch.zeros(2, 4),
            torch.zeros(2, 3),
            torch.zeros(2, 3),
            torch.zeros(2, 3),
        )
