"""Frozen bottom blocks run once per PPO iteration, not once per pass.

With ``train_layers: k`` a model's embeddings and bottom ``N - k`` blocks never change
during training, so on the same batch they return the same output every time. Each PPO
iteration passes over its batch several times: the actor for the exact KL, the reference
for the KL penalty, and the actor and critic again in every update epoch. Here the frozen
trunk's output is recorded once (:func:`record_block_outputs`, a forward hook) and played
back (:func:`replay_trunk`, stand-in modules), so the later passes run only the embeddings
and the top ``k`` blocks: for SmolLM2-135M with ``k = 4`` of 30 blocks, about a seventh of
the work.

- The reference: while the actor's bottom blocks equal the reference's, bit for bit (both
  start from the SFT model; :func:`shared_frozen_blocks`), the reference replays the actor's
  trunk. TRL and DeepSpeed-Chat run the reference whole.
- The update: the actor and critic replay their own trunks (:func:`frozen_bottom_blocks`),
  recorded before the first epoch and cut to each minibatch's rows and width
  (:func:`trunk_rows`).

The replayed pass gives the full pass's result (tests check both uses), because the same
weights see the same inputs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
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
    frozen = frozen_bottom_blocks(actor)  # 0 also without a block stack
    if not frozen:
        return 0
    try:
        reference_blocks = transformer_blocks(reference)
    except ValueError:
        return 0
    actor_blocks = transformer_blocks(actor)
    if len(actor_blocks) != len(reference_blocks) or not _same(
        _embeddings(actor), _embeddings(reference)
    ):
        return 0
    shared = 0
    for actor_block, reference_block in zip(
        actor_blocks[:frozen], reference_blocks[:frozen], strict=True
    ):
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


def frozen_bottom_blocks(model: nn.Module) -> int:
    """How many bottom blocks of ``model`` give the same output on the same batch all through
    a PPO update: the blocks that train nothing, counted from the bottom, provided that the
    embeddings below them train nothing either (0 otherwise, or without a block stack)."""
    try:
        blocks = transformer_blocks(model)
    except ValueError:
        return 0
    if any(p.requires_grad for m in _embeddings(model) for p in m.parameters()):
        return 0
    count = 0
    for block in blocks:
        if any(p.requires_grad for p in block.parameters()):
            break
        count += 1
    return count


class _Replay(nn.Module):
    """Stands in for a block: returns a recorded output whatever it is given."""

    def __init__(self, output: Any) -> None:
        super().__init__()
        self.output = output

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.output


@contextlib.contextmanager
def record_block_outputs(model: nn.Module, indices: Iterable[int]) -> Iterator[dict[int, Any]]:
    """Records what the blocks ``indices`` (0 is the bottom) return during the enclosed pass."""
    outputs: dict[int, Any] = {}
    blocks = transformer_blocks(model)
    hooks = [
        blocks[index].register_forward_hook(
            lambda module, args, output, index=index: outputs.__setitem__(index, output)
        )
        for index in set(indices)
    ]
    try:
        yield outputs
    finally:
        for hook in hooks:
            hook.remove()


@contextlib.contextmanager
def replay_trunk(model: nn.Module, count: int, output: Any) -> Iterator[nn.Module]:
    """``model`` with its bottom ``count`` blocks replaced by stand-ins that return ``output``
    (what block ``count - 1`` returned, recorded on the same rows, with the same mask); the
    blocks are put back afterwards. Only the blocks above run, so only they cost time."""
    blocks = transformer_blocks(model)
    originals = [blocks[index] for index in range(count)]
    replay = _Replay(output)
    try:
        for index in range(count):
            blocks[index] = replay
        yield model
    finally:
        for index, block in enumerate(originals):
            blocks[index] = block


def trunk_rows(output: torch.Tensor, width: int) -> torch.Tensor:
    """A recorded block output ``(rows, positions, hidden)`` cut to the last ``width``
    positions: a minibatch's left padding is trimmed less far than the whole batch's, and
    the real tokens' outputs do not depend on the padding in front of them."""
    if output.shape[1] < width:
        raise ValueError(f"recorded {output.shape[1]} positions, the batch has {width}")
    return output[:, -width:]
