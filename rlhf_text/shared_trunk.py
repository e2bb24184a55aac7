"""The reference pass on a frozen trunk: compute the bottom blocks once, not twice.

With ``actor.train_layers: k`` the actor's embeddings and bottom ``N - k`` blocks never
change, so they stay equal, bit for bit, to the reference's (both start from step 1's
model). Each PPO iteration runs both models over the same batch (the reference's log-probs
for the KL penalty, the actor's for the exact KL): the reference's bottom blocks would
recompute what the actor's just computed. :func:`replay_shared_trunk` records the actor's
bottom-block outputs and plays them back inside the reference, which then runs only its
embeddings and its top ``k`` blocks: for SmolLM2-135M with ``k = 4`` of 30 blocks, the
reference pass costs about a seventh of what it did. The result is the same tensor the full
pass gives (a test checks it), because the same weights see the same inputs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from rlhf_text.freeze import transformer_blocks


def shared_frozen_blocks(actor: nn.Module, reference: nn.Module) -> int:
    """How many bottom blocks the actor keeps frozen and equal to the reference's.

    Counts from the bottom while the actor's block trains nothing and every parameter
    equals the reference's; 0 when the embeddings differ, the stacks differ in length, or
    no block stack is found (a DeepSpeed ZeRO-3 model's parameters are partitioned and so
    never compare equal: the fallback is the plain full pass).
    """
    try:
        actor_blocks, reference_blocks = transformer_blocks(actor), transformer_blocks(reference)
    except ValueError:
        return 0
    actor_embeddings, reference_embeddings = _embeddings(actor), _embeddings(reference)
    if len(actor_blocks) != len(reference_blocks) or not _same(
        actor_embeddings, reference_embeddings
    ):
        return 0
    shared = 0
    for actor_block, reference_block in zip(actor_blocks, reference_blocks, strict=True):
        if any(p.requires_grad for p in actor_block.parameters()):
            break
        if not _same(actor_block, reference_block):
            break
        shared += 1
    return shared


def _embeddings(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.Embedding)]


def _same(first: nn.Module | list[nn.Module], second: nn.Module | list[nn.Module]) -> bool:
    first_params = [p for m in _as_list(first) for p in m.parameters()]
    second_params = [p for m in _as_list(second) for p in m.parameters()]
    if len(first_params) != len(second_params) or any(p.requires_grad for p in first_params):
        return False
    return all(
        a.shape == b.shape and torch.equal(a, b)
        for a, b in zip(first_params, second_params, strict=True)
    )


def _as_list(modules: nn.Module | list[nn.Module]) -> list[nn.Module]:
    return modules if isinstance(modules, list) else [modules]


class _Replay(nn.Module):
    """Stands in for a block: returns what the actor's twin block returned on this batch."""

    def __init__(self, output: Any) -> None:
        super().__init__()
        self.output = output

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.output


@contextlib.contextmanager
def record_trunk(actor: nn.Module, count: int) -> Iterator[dict[int, Any]]:
    """Records the outputs of the actor's bottom ``count`` blocks during the enclosed pass."""
    outputs: dict[int, Any] = {}
    blocks = transformer_blocks(actor)
    hooks = [
        blocks[index].register_forward_hook(
            lambda module, args, output, index=index: outputs.__setitem__(index, output)
        )
        for index in range(count)
    ]
    try:
        yield outputs
    finally:
        for hook in hooks:
            hook.remove()


@contextlib.contextmanager
def replay_trunk(reference: nn.Module, outputs: dict[int, Any]) -> Iterator[nn.Module]:
    """The reference with its bottom blocks replaced by replays of ``outputs`` (restored
    after). Use it only on the batch ``outputs`` were recorded on, with the same mask."""
    blocks = transformer_blocks(reference)
    originals = {index: blocks[index] for index in outputs}
    try:
        for index, output in outputs.items():
            blocks[index] = _Replay(output)
        yield reference
    finally:
        for index, block in originals.items():
            blocks[index] = block
