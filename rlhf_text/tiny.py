"""Small models built from a config, for the offline default and the tests (no downloads).

A byte-level BPE tokenizer trained on the texts at hand (seconds) and a GPT-2 of a few
layers: enough for the whole SFT -> reward model -> PPO pipeline to run on 2 CPU cores.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

EOS = "<|endoftext|>"
PAD = "<|pad|>"


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024, min_frequency: int = 2):
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on ``texts``.

    Byte-level, so any text encodes (no unknown tokens); ``<|endoftext|>`` is EOS and BOS,
    ``<|pad|>`` the pad token, and padding is on the left, as generation wants.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 300:
        raise ValueError(f"vocab_size must be >= 300 (256 bytes + merges), got {vocab_size}")
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token=EOS,
        bos_token=EOS,
        pad_token=PAD,
        padding_side="left",
    )


@dataclass
class TinyModelConfig:
    """A GPT-2 small enough to train from scratch on CPU in minutes."""

    n_layer: int = 2
    """transformer blocks"""
    n_embd: int = 64
    """hidden size"""
    n_head: int = 2
    """attention heads"""
    n_positions: int = 256
    """longest sequence (prompt + response)"""


def tiny_gpt2_config(tokenizer, config: TinyModelConfig | None = None, **overrides):
    """A ``GPT2Config`` sized by ``config`` with the tokenizer's vocabulary and special ids."""
    from transformers import GPT2Config

    config = config or TinyModelConfig()
    return GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=config.n_positions,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **overrides,
    )


def tiny_causal_lm(tokenizer, config: TinyModelConfig | None = None, seed: int = 0):
    """A randomly initialised ``GPT2LMHeadModel`` (seeded)."""
    import torch
    from transformers import GPT2LMHeadModel

    torch.manual_seed(seed)
    return GPT2LMHeadModel(tiny_gpt2_config(tokenizer, config)).eval()


def tiny_value_model(tokenizer, config: TinyModelConfig | None = None, seed: int = 0):
    """A randomly initialised ``GPT2ForSequenceClassification`` with one label (seeded)."""
    import torch
    from transformers import GPT2ForSequenceClassification

    torch.manual_seed(seed)
    return GPT2ForSequenceClassification(tiny_gpt2_config(tokenizer, config, num_labels=1)).eval()
