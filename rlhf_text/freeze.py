"""Training only a model's top transformer blocks: the cheap way to tune a pretrained model.

On 2 CPU cores one step of 16 x 96 tokens through SmolLM2-135M takes about 6 s with all 30
blocks trained and 1.9 s with the top 6: autograd stops at the first block that needs a
gradient, so the frozen bottom costs one forward pass and no backward, and the optimiser
holds state for the trained part only. ``ModelConfig.train_layers`` chooses how many blocks
train; the embeddings (and so a head tied to them) stay frozen, while everything above the
blocks (the final norm, an untied LM head, a reward model's scalar head) trains.
"""

from __future__ import annotations

from torch import nn


def transformer_blocks(model: nn.Module) -> nn.ModuleList:
    """The model's stack of transformer blocks: its longest ``nn.ModuleList``.

    Works across families (GPT-2's ``h``, Llama's ``layers``, OPT's ``decoder.layers``)
    without naming them; the count is checked against the config's ``num_hidden_layers``
    where the config has one.

    Raises:
        ValueError: no module list, or one whose length differs from the config's.
    """
    lists = [m for m in model.modules() if isinstance(m, nn.ModuleList)]
    if not lists:
        raise ValueError(f"train_layers: {type(model).__name__} has no stack of blocks")
    blocks = max(lists, key=len)
    expected = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    if isinstance(expected, int) and expected != len(blocks):
        raise ValueError(
            f"train_layers: found {len(blocks)} blocks in {type(model).__name__}, its config "
            f"says {expected}"
        )
    return blocks


def train_top_layers(model: nn.Module, layers: int) -> int:
    """Freezes the embeddings and all but the top ``layers`` blocks; returns trained params.

    Args:
        model: a transformers model (causal LM or a value model with a scalar head).
        layers: how many of the top blocks train, ``1 <= layers <= number of blocks``.

    Returns:
        The number of parameters left trainable.

    Raises:
        ValueError: ``layers`` out of range, or no block stack found.
    """
    blocks = transformer_blocks(model)
    if not 1 <= layers <= len(blocks):
        raise ValueError(f"train_layers must be in [1, {len(blocks)}], got {layers}")
    frozen = {id(p) for block in blocks[: len(blocks) - layers] for p in block.parameters()}
    for module in model.modules():
        if isinstance(module, nn.Embedding):  # token and position embeddings (and tied heads)
            frozen.update(id(p) for p in module.parameters())
    for parameter in model.parameters():
        parameter.requires_grad_(id(parameter) not in frozen)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def keep_bottom_layers(model: nn.Module, layers: int) -> None:
    """Drops every block above the bottom ``layers`` (in place) and records it in the config.

    Raises:
        ValueError: ``layers`` out of range, or no block stack found.
    """
    blocks = transformer_blocks(model)
    if not 1 <= layers <= len(blocks):
        raise ValueError(f"keep_layers must be in [1, {len(blocks)}], got {layers}")
    del blocks[layers:]
    config = getattr(model, "config", None)
    if config is not None:
        config.num_hidden_layers = layers
        if isinstance(getattr(config, "layer_types", None), list):  # per-block attention kinds
            config.layer_types = config.layer_types[:layers]
