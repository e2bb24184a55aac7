"""The Bradley-Terry pairwise loss and preference metrics."""

from __future__ import annotations

import math

import pytest
import torch

from agents.preference import pairwise_loss, preference_metrics


def test_loss_equals_hand_computed_values():
    chosen = torch.tensor([2.0, 0.0, -1.0])
    rejected = torch.tensor([1.0, 0.0, 1.0])
    # margins 1, 0, -2: -log sigmoid(m) = log(1 + exp(-m))
    expected = (math.log1p(math.exp(-1.0)) + math.log(2.0) + math.log1p(math.exp(2.0))) / 3
    assert pairwise_loss(chosen, rejected).item() == pytest.approx(expected, rel=1e-6)


def test_loss_depends_only_on_the_margin():
    chosen, rejected = torch.randn(5), torch.randn(5)
    shifted = pairwise_loss(chosen + 7.0, rejected + 7.0)
    assert shifted.item() == pytest.approx(pairwise_loss(chosen, rejected).item(), rel=1e-6)


def test_gradient_raises_chosen_and_lowers_rejected():
    chosen = torch.tensor([0.5, -2.0], requires_grad=True)
    rejected = torch.tensor([0.0, 3.0], requires_grad=True)
    pairwise_loss(chosen, rejected).backward()
    assert (chosen.grad < 0).all()  # gradient descent increases chosen scores
    assert (rejected.grad > 0).all()
    assert torch.allclose(chosen.grad, -rejected.grad)
    # d/dm of -log sigmoid(m), averaged over N = 2 pairs: -(1 - sigmoid(m)) / 2
    margins = torch.tensor([0.5, -5.0])
    assert torch.allclose(chosen.grad, -(1 - torch.sigmoid(margins)) / 2)


def test_loss_is_finite_for_huge_margins():
    chosen = torch.tensor([-1e4, 1e4])
    rejected = torch.tensor([1e4, -1e4])
    loss = pairwise_loss(chosen, rejected)
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx(2e4 / 2, rel=1e-6)


def test_metrics():
    chosen = torch.tensor([1.0, 2.0, 0.0, 5.0])
    rejected = torch.tensor([0.0, 3.0, 0.0, 1.0])
    metrics = preference_metrics(chosen, rejected)
    assert metrics == pytest.approx(
        {"accuracy": 0.5, "chosen_score": 2.0, "rejected_score": 1.0, "margin": 1.0}
    )
    assert all(isinstance(value, float) for value in metrics.values())


def test_mismatched_or_empty_inputs_are_errors():
    with pytest.raises(ValueError, match="same shape"):
        pairwise_loss(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="no pairs"):
        preference_metrics(torch.zeros(0), torch.zeros(0))
