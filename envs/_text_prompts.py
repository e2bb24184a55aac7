"""Prompts, tokenizer and spaces of `TextGenEnv`: what is checked once when the env is built."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from envs._token_batch import TextSpec

PROMPT_TRUNCATION = ("error", "left")


class PromptSource:
    """Prompts and their token ids, checked once when the env is built.

    Args:
        tokenizer: A Hugging Face tokenizer (or a name/path for `AutoTokenizer`).
        prompts: The prompt strings, or a path to a `.txt` (one prompt per line), `.json`
            (a list of strings or of objects with "prompt") or `.jsonl` file.
        max_prompt_len: Longest prompt in tokens.
        prompt_truncation: "error" (default): an over-long prompt is a ValueError naming it;
            "left": keep its last `max_prompt_len` tokens (the most recent turns), counted in
            `num_truncated`.
        chat_template: Wrap each prompt as a user message with the tokenizer's chat template.
        add_special_tokens: Passed to the tokenizer (adds BOS for models that use one).
    """

    def __init__(
        self,
        tokenizer: Any,
        prompts: Sequence[str] | str | Path,
        max_prompt_len: int,
        prompt_truncation: str = "error",
        chat_template: bool = False,
        add_special_tokens: bool = True,
    ) -> None:
        if prompt_truncation not in PROMPT_TRUNCATION:
            raise ValueError(
                f"prompt_truncation must be one of {PROMPT_TRUNCATION}, got {prompt_truncation!r}"
            )
        self.tokenizer = tokenizer
        self.max_prompt_len = max_prompt_len
        self.prompt_truncation = prompt_truncation
        self.chat_template = chat_template
        self.add_special_tokens = add_special_tokens
        self.num_truncated = 0
        self.texts = load_prompts(prompts)
        if not self.texts:
            raise ValueError("the prompt source is empty")
        self.ids = [self.encode(text, f"prompt {i}") for i, text in enumerate(self.texts)]

    def encode(self, text: str, where: str = "prompt") -> np.ndarray:
        """Token ids of one prompt, checked for emptiness and length."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{where} is empty or not a string: {text!r}")
        if self.chat_template:
            text = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
            )
        ids = self.tokenizer(text, add_special_tokens=self.add_special_tokens)["input_ids"]
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size == 0:
            raise ValueError(f"{where} encodes to no tokens: {text!r}")
        if ids.size > self.max_prompt_len:
            if self.prompt_truncation == "error":
                raise ValueError(
                    f"{where} has {ids.size} tokens, more than max_prompt_len="
                    f"{self.max_prompt_len} ({text[:60]!r}...); raise max_prompt_len or set "
                    "prompt_truncation='left'"
                )
            ids = ids[-self.max_prompt_len :]
            self.num_truncated += 1
        return ids


def load_prompts(prompts: Sequence[str] | str | Path) -> list[str]:
    """Prompt strings from a sequence or a .txt/.json/.jsonl file (ValueError if unreadable)."""
    if not isinstance(prompts, (str, Path)):
        return list(prompts)
    path = Path(prompts)
    if not path.is_file():
        raise FileNotFoundError(f"prompt file not found: {path}")
    if path.suffix == ".txt":
        return [line for line in path.read_text().splitlines() if line.strip()]
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    elif path.suffix == ".json":
        rows = json.loads(path.read_text())
    else:
        raise ValueError(f"prompt file {path} must be .txt, .json or .jsonl")
    return [row["prompt"] if isinstance(row, dict) else row for row in rows]


def load_tokenizer(tokenizer: Any) -> Any:
    """The tokenizer itself, or `AutoTokenizer.from_pretrained` of a name or local path."""
    if isinstance(tokenizer, (str, Path)):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(tokenizer))
    return tokenizer


def text_spec(
    tokenizer: Any,
    max_prompt_len: int,
    max_new_tokens: int,
    vocab_size: int | None,
    stop_token_ids: Sequence[int] | None,
) -> TextSpec:
    """The vocabulary, lengths, pad and stop tokens of an env, checked against each other."""
    if max_prompt_len < 1 or max_new_tokens < 1:
        raise ValueError("max_prompt_len and max_new_tokens must be >= 1")
    vocab_size = len(tokenizer) if vocab_size is None else int(vocab_size)
    if stop_token_ids is None:
        eos = tokenizer.eos_token_id
        stop_token_ids = () if eos is None else (eos,)
    pad = tokenizer.pad_token_id
    pad = pad if pad is not None else (tokenizer.eos_token_id or 0)
    for name, token in [("pad_token_id", pad), *(("stop token", t) for t in stop_token_ids)]:
        if not 0 <= token < vocab_size:
            raise ValueError(f"{name} {token} is outside the vocabulary [0, {vocab_size})")
    return TextSpec(vocab_size, max_prompt_len, max_new_tokens, pad, tuple(stop_token_ids))


def observation_space(spec: TextSpec) -> spaces.Dict:
    """`Dict(input_ids, attention_mask)` over the `max_prompt_len + max_new_tokens` window."""
    return spaces.Dict(
        {
            "input_ids": spaces.MultiDiscrete(np.full(spec.window, spec.vocab_size)),
            "attention_mask": spaces.MultiBinary(spec.window),
        }
    )
