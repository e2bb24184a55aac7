"""`RewardModelScorer`: a Hugging Face sequence-classification model as a `TextReward`.

This module imports torch and transformers; `envs.rewards` and `envs.rewards.text` import it
only when a reward model is asked for (`build_text_reward({"type": "reward_model", ...})`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from envs.rewards.text_base import check_texts

__all__ = ["RewardModelScorer"]

DEFAULT_MAX_LENGTH = 512
"""tokens scored per text when `max_length` is not given (or the model's positions, if fewer)"""


class RewardModelScorer:
    """Scores `prompt + response` with a sequence-classification model that has one output.

    The policy's tokens are decoded to text by the environment; here the text is tokenised
    again with the reward model's own tokenizer, so policy and reward model need not share a
    vocabulary. The response is appended to the prompt as is: put any separator or chat
    template into the prompt or response text.

    Which token is scored: the last real token of `prompt + response`. Rows are right-padded
    and the model's own pooling (the rightmost token that is not `config.pad_token_id`, as in
    `GPT2ForSequenceClassification`) picks it. Two choices keep that pick right:

    - No special tokens are added when tokenising (`add_special_tokens=False`): a tokenizer
      that appends EOS, with pad = EOS, would otherwise have its EOS skipped by the pooling.
      A model trained with a BOS or CLS token should get it in the prompt text.
    - A row whose text itself ends with the pad token (e.g. the EOS string when pad = EOS) is
      scored alone, unpadded, with the pad id cleared for that call, so the last token counts.

    A missing `config.pad_token_id` is set to the tokenizer's pad id, or to its EOS id (the
    tokenizer's pad token then becomes its EOS token). The model is moved to `device` and kept
    in eval mode; scoring runs under `torch.no_grad()`.

    Args:
        model: A local directory or hub name, loaded with
            `AutoModelForSequenceClassification.from_pretrained(model, num_labels=1)`, or a
            built `PreTrainedModel` with `config.num_labels == 1`.
        tokenizer: The tokenizer, or its directory or hub name. Defaults to None: loaded from
            `model` when that is a path or name; required when `model` is a built model.
        batch_size: Texts per forward pass, at least 1. Defaults to 16.
        max_length: Most tokens scored per text, at most the model's position limit.
            Defaults to None: the position limit, at most 512 (512 when the model has none).
        device: Where the model runs, e.g. `"cpu"` or `"cuda:0"`. Defaults to "cpu".
        truncation: What to do with a text longer than `max_length` tokens: `"left"` keeps
            its last `max_length` tokens (the end of the response) and counts it in
            `num_truncated`; `"error"` raises ValueError naming the row. Defaults to "left".
        trust_remote_code: Passed to `from_pretrained` only when True. Defaults to False.

    Attributes:
        num_truncated: How many texts were cut from the left since construction.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | PreTrainedModel,
        tokenizer: str | os.PathLike[str] | PreTrainedTokenizerBase | None = None,
        batch_size: int = 16,
        max_length: int | None = None,
        device: str = "cpu",
        truncation: Literal["error", "left"] = "left",
        trust_remote_code: bool = False,
    ) -> None:
        checked = [("batch_size", batch_size)]
        if max_length is not None:
            checked.append(("max_length", max_length))
        for name, value in checked:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if truncation not in ("error", "left"):
            raise ValueError(f"truncation must be 'error' or 'left', got {truncation!r}")
        load_kwargs: dict[str, Any] = {"trust_remote_code": True} if trust_remote_code else {}
        if isinstance(model, str | os.PathLike):
            tokenizer = model if tokenizer is None else tokenizer
            model = AutoModelForSequenceClassification.from_pretrained(
                os.fspath(model), num_labels=1, **load_kwargs
            )
        elif not isinstance(model, PreTrainedModel):
            raise ValueError(f"model must be a path, hub name or PreTrainedModel, got {model!r}")
        elif tokenizer is None:
            raise ValueError("tokenizer is required when model is a built PreTrainedModel")
        if isinstance(tokenizer, str | os.PathLike):
            tokenizer = AutoTokenizer.from_pretrained(os.fspath(tokenizer), **load_kwargs)
        if not isinstance(tokenizer, PreTrainedTokenizerBase):
            raise ValueError(f"tokenizer must be a path or a tokenizer, got {tokenizer!r}")
        if model.config.num_labels != 1:
            raise ValueError(f"model must have num_labels == 1, got {model.config.num_labels}")
        positions = getattr(_text_config(model), "max_position_embeddings", None)
        if max_length is None:
            max_length = DEFAULT_MAX_LENGTH
            if isinstance(positions, int):
                max_length = min(max_length, positions)
        elif isinstance(positions, int) and max_length > positions:
            raise ValueError(f"max_length {max_length} exceeds the model's {positions} positions")

        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = torch.device(device)
        self.truncation = truncation
        self.pad_token_id = self._ensure_pad_token_id()
        self.num_truncated = 0

    def _ensure_pad_token_id(self) -> int:
        """Returns the model's pad id, setting it from the tokenizer when missing."""
        pad_token_id = _text_config(self.model).pad_token_id
        if pad_token_id is not None:
            return int(pad_token_id)
        if self.tokenizer.pad_token_id is None:
            if self.tokenizer.eos_token is None:
                raise ValueError("the tokenizer has neither a pad token nor an eos token")
            self.tokenizer.pad_token = self.tokenizer.eos_token
        for config in _configs(self.model):
            config.pad_token_id = self.tokenizer.pad_token_id
        return int(self.tokenizer.pad_token_id)

    def score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        """Returns the model's score of each `prompt + response`, float64 of shape (n,).

        Raises:
            ValueError: If the texts do not pair up, a text has no tokens, or (with
                `truncation="error"`) a text is longer than `max_length` tokens.
        """
        prompts, responses = check_texts(prompts, responses)
        if not prompts:
            return np.zeros(0, dtype=np.float64)
        texts = [prompt + response for prompt, response in zip(prompts, responses, strict=True)]
        token_ids = self._tokenize(texts)
        scores = np.empty(len(token_ids), dtype=np.float64)
        ends_with_pad = [row for row, ids in enumerate(token_ids) if ids[-1] == self.pad_token_id]
        padded = sorted(
            set(range(len(token_ids))) - set(ends_with_pad), key=lambda row: len(token_ids[row])
        )
        self.model.eval()
        # Rows of similar length share a batch, so less compute goes into padding.
        for start in range(0, len(padded), self.batch_size):
            rows = padded[start : start + self.batch_size]
            scores[rows] = self._forward([token_ids[row] for row in rows])
        with self._pad_token_id_cleared():  # batch of one, no padding: the last token counts
            for row in ends_with_pad:
                scores[row] = self._forward([token_ids[row]])[0]
        return scores

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, no special tokens added, cut to `max_length` from the left."""
        token_ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        for row, ids in enumerate(token_ids):
            if not ids:
                raise ValueError(f"row {row}: prompt + response has no tokens to score")
            if len(ids) > self.max_length and self.truncation == "error":
                raise ValueError(
                    f"row {row}: {len(ids)} tokens exceed max_length={self.max_length} "
                    "(truncation='error')"
                )
        self.num_truncated += sum(len(ids) > self.max_length for ids in token_ids)
        return [list(ids[-self.max_length :]) for ids in token_ids]

    @torch.no_grad()
    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        """Scores one batch of token-id lists, right-padded; float64 of shape (len(batch),)."""
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self.pad_token_id, dtype=torch.long)  # (B, T)
        attention_mask = torch.zeros_like(input_ids)  # (B, T)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, : len(ids)] = 1
        logits = self.model(
            input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device)
        ).logits  # (B, 1), pooled at each row's last non-pad token
        return logits[:, 0].float().cpu().numpy().astype(np.float64)

    @contextlib.contextmanager
    def _pad_token_id_cleared(self) -> Iterator[None]:
        """Sets the model's pad id to None (the pooling then takes the last position)."""
        configs = _configs(self.model)
        saved = [config.pad_token_id for config in configs]
        for config in configs:
            config.pad_token_id = None
        try:
            yield
        finally:
            for config, pad_token_id in zip(configs, saved, strict=True):
                config.pad_token_id = pad_token_id

    def __repr__(self) -> str:
        return (
            f"RewardModelScorer(model={type(self.model).__name__}, batch_size={self.batch_size}, "
            f"max_length={self.max_length}, device={str(self.device)!r}, "
            f"truncation={self.truncation!r})"
        )


def _text_config(model: PreTrainedModel) -> PretrainedConfig:
    """The config that holds the pad id the pooling reads (the text part of a composite model)."""
    get_text_config = getattr(model.config, "get_text_config", None)
    return model.config if get_text_config is None else get_text_config()


def _configs(model: PreTrainedModel) -> list[PretrainedConfig]:
    """The model's config and, if it is a different object, its text config."""
    text_config = _text_config(model)
    return [model.config] if text_config is model.config else [model.config, text_config]
