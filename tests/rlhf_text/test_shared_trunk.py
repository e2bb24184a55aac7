"""The reference pass that replays the actor's frozen bottom blocks gives the full pass."""

from __future__ import annotations

import copy

import pytest
import torch
import transformers

from rlhf_text.freeze import train_top_layers
from rlhf_text.ppo import response_log_softmax
from rlhf_text.shared_trunk import (
    frozen_bottom_blocks,
    record_block_outputs,
    replay_trunk,
    shared_frozen_blocks,
    trunk_rows,
)


def _gpt2():
    config = transformers.GPT2Config(
        vocab_size=50, n_positions=32, n_embd=16, n_layer=4, n_head=2,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
    )  # fmt: skip
    return transformers.GPT2LMHeadModel(config)


def _llama():
    config = transformers.LlamaConfig(
        vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=4,
        num_attention_heads=2, num_key_value_heads=1,
    )  # fmt: skip
    return transformers.LlamaForCausalLM(config)


@pytest.mark.parametrize("make", [_gpt2, _llama], ids=["gpt2", "llama"])
def test_replayed_reference_equals_the_full_reference_pass(make) -> None:
    torch.manual_seed(0)
    reference = make().eval().requires_grad_(False)
    actor = copy.deepcopy(reference).train()
    train_top_layers(actor, 1)
    with torch.no_grad():  # the actor's top block moves away from the reference's
        for p in actor.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn_like(p))
    assert shared_frozen_blocks(actor, reference) == 3
    ids = torch.randint(1, 50, (3, 10))
    mask = torch.ones_like(ids)
    mask[0, :4] = 0  # a left-padded row
    with torch.no_grad():
        full = response_log_softmax(reference, ids, mask, 5, 1.0)
        with record_block_outputs(actor, [2]) as trunk:
            actor_out = response_log_softmax(actor, ids, mask, 5, 1.0)
        with replay_trunk(reference, 3, trunk[2]) as replaying:
            replayed = response_log_softmax(replaying, ids, mask, 5, 1.0)
    assert torch.allclose(replayed, full, atol=1e-6)
    assert not torch.allclose(actor_out, full, atol=1e-3)  # the replay is not the actor's top
    # the reference's own blocks are back afterwards
    assert all(type(b).__name__ != "_Replay" for b in reference.modules())


def test_nothing_is_shared_when_weights_differ_or_the_actor_trains_everything() -> None:
    torch.manual_seed(0)
    reference = _llama().requires_grad_(False)
    actor = copy.deepcopy(reference).requires_grad_(True)
    assert shared_frozen_blocks(actor, reference) == 0  # every actor parameter trains
    train_top_layers(actor, 2)
    assert shared_frozen_blocks(actor, reference) == 2
    with torch.no_grad():
        reference.model.layers[1].mlp.up_proj.weight.add_(1e-3)
    assert shared_frozen_blocks(actor, reference) == 1
    with torch.no_grad():
        reference.model.embed_tokens.weight.add_(1e-3)
    assert shared_frozen_blocks(actor, reference) == 0


@pytest.mark.parametrize("make", [_gpt2, _llama], ids=["gpt2", "llama"])
def test_a_minibatch_replaying_its_rows_of_the_trunk_gets_its_own_full_pass(make) -> None:
    """An update minibatch trims less left padding than the whole batch: the recorded
    trunk, cut to its rows and width, still gives its full pass's log-probs and gradient."""
    torch.manual_seed(0)
    model = make()
    train_top_layers(model, 1)
    assert frozen_bottom_blocks(model) == 3
    ids = torch.randint(1, 50, (3, 10))
    mask = torch.ones_like(ids)
    mask[0, :4] = 0  # the longest padding is row 0's; the minibatch, rows 2 and 1, needs 9
    mask[1, :2] = 0
    mask[2, :1] = 0
    with torch.no_grad(), record_block_outputs(model, [2]) as trunk:
        response_log_softmax(model, ids, mask, 5, 1.0)  # the batch's pass, positions and all
    rows, width = torch.tensor([2, 1]), 9
    mb_ids, mb_mask = ids[rows, -width:], mask[rows, -width:]
    full = response_log_softmax(model, mb_ids, mb_mask, 5, 1.0)
    full.sum().backward()
    full_grads = [p.grad.clone() for p in model.parameters() if p.requires_grad]
    model.zero_grad()
    with replay_trunk(model, 3, trunk_rows(trunk[2][rows], width)) as replaying:
        replayed = response_log_softmax(replaying, mb_ids, mb_mask, 5, 1.0)
    replayed.sum().backward()
    assert torch.allclose(replayed, full, atol=1e-5)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(grads, full_grads, strict=True))
    with pytest.raises(ValueError, match="recorded 10 positions, the batch has 11"):
        trunk_rows(trunk[2], 11)


def test_no_trunk_is_frozen_while_the_embeddings_train() -> None:
    model = _llama()
    assert frozen_bottom_blocks(model) == 0  # everything trains
    train_top_layers(model, 2)
    assert frozen_bottom_blocks(model) == 2
    model.model.embed_tokens.weight.requires_grad_(True)
    assert frozen_bottom_blocks(model) == 0
