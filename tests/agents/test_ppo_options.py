"""ppo.loss_backend chosen explicitly, and exactly num_minibatches per epoch."""

from __future__ import annotations

import pytest
import torch

from agents import GaussianActorCritic, PPOConfig, ppo_update
from agents.flat import flatten_parameters
from agents.ppo import choose_loss_backend
from tests.agents.toy_envs import point_rollout


def _policy(seed: int = 0) -> GaussianActorCritic:
    torch.manual_seed(seed)
    return GaussianActorCritic(4, 2, hidden=(16, 16))


def _count_closed_form(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    original = GaussianActorCritic.ppo_loss_and_grad

    def counted(self, *args, **kwargs):
        calls[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GaussianActorCritic, "ppo_loss_and_grad", counted)
    return calls


@pytest.mark.parametrize(("backend", "closed_form_calls"), [("auto", 2), ("autograd", 0)])
def test_the_backend_decides_who_computes_the_gradient(
    monkeypatch: pytest.MonkeyPatch, backend: str, closed_form_calls: int
) -> None:
    calls = _count_closed_form(monkeypatch)
    policy = _policy()
    batch = point_rollout(policy)
    optimizer = torch.optim.Adam([flatten_parameters(policy)], lr=1e-3)
    config = PPOConfig(update_epochs=1, num_minibatches=2, loss_backend=backend)
    ppo_update(policy, optimizer, batch, config, torch.Generator().manual_seed(0))
    assert calls[0] == closed_form_calls


def test_closed_form_raises_where_it_cannot_apply() -> None:
    policy = _policy()
    batch = point_rollout(policy)
    some = torch.optim.Adam([policy.log_std], lr=1e-3)  # not exactly the policy's parameters
    config = PPOConfig(update_epochs=1, num_minibatches=2, loss_backend="closed_form")
    with pytest.raises(ValueError, match="closed_form"):
        ppo_update(policy, some, batch, config)
    # a minibatch the closed form does not cover (a clipped value loss) raises too
    optimizer = torch.optim.Adam([flatten_parameters(policy)], lr=1e-3)
    clipped = PPOConfig(
        update_epochs=1, num_minibatches=2, loss_backend="closed_form", value_clip_coef=0.2
    )
    with pytest.raises(ValueError, match="does not cover"):
        ppo_update(policy, optimizer, batch, clipped)


def test_auto_says_once_which_backend_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import agents.ppo

    agents.ppo._ANNOUNCED.clear()
    policy = _policy()
    optimizer = torch.optim.Adam([flatten_parameters(policy)], lr=1e-3)
    stepper = agents.ppo.TorchStepper(optimizer)
    for _ in range(3):
        assert choose_loss_backend(policy, stepper, "auto") is not None
    assert capsys.readouterr().err.count("loss_backend=auto: closed_form") == 1
    with pytest.raises(ValueError, match="loss_backend"):
        PPOConfig(loss_backend="fast")


@pytest.mark.parametrize(("rows", "asked"), [(12, 5), (120, 8), (3, 8)])  # 12 // 5 = 2 a batch
def test_an_epoch_runs_exactly_the_minibatches_asked_for(rows: int, asked: int) -> None:
    policy = _policy()
    batch = point_rollout(policy, steps=rows // 3, num_envs=3)
    config = PPOConfig(update_epochs=2, num_minibatches=asked, loss_backend="autograd")
    metrics = ppo_update(policy, torch.optim.Adam(policy.parameters()), batch, config)
    real_steps = int(batch.mask.sum())
    assert metrics["train/minibatches"] == 2 * min(asked, real_steps)
