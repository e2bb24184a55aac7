"""Preference rows in a chat model's own format (``DataConfig.chat_template``).

Rows use the rm-static dialogue format: ``"\\n\\nHuman: ...\\n\\nAssistant: ...\\n\\nHuman:
...\\n\\nAssistant:"``. An instruction-tuned model such as SmolLM2-135M-Instruct was trained on
its chat template instead (``<|im_start|>user\\n...<|im_end|>``), and answers far better in it.
:func:`format_pairs` turns each prompt's turns into chat messages and renders them with the
tokenizer's template (with the generation prompt, so the prompt ends where the assistant's
answer starts) and strips the leading space the dialogue format puts before each response.
The three steps then see ordinary ``(prompt, chosen, rejected)`` strings: SFT appends the
tokenizer's EOS (``<|im_end|>`` for SmolLM2) to each chosen answer, the reward model scores
``prompt + response`` and PPO's text env generates after the prompt, all in one format.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

_TURN = re.compile(r"\n\n(Human|Assistant):")
_ROLES = {"Human": "user", "Assistant": "assistant"}


def dialogue_messages(prompt: str) -> list[dict[str, str]]:
    """The turns of an rm-static prompt as chat messages, without the open Assistant turn.

    ``"\\n\\nHuman: Hi\\n\\nAssistant: Hello\\n\\nHuman: Bread?\\n\\nAssistant:"`` gives
    ``[user "Hi", assistant "Hello", user "Bread?"]``. Text before the first marker (or a
    prompt with no markers at all) belongs to the first user message.

    Raises:
        ValueError: if the prompt's last Assistant turn already has text (nothing would be
            left for the response) or no user text remains.
    """
    parts = _TURN.split(prompt)
    messages: list[dict[str, str]] = []
    if parts[0].strip():
        messages.append({"role": "user", "content": parts[0].strip()})
    for role, content in zip(parts[1::2], parts[2::2], strict=True):
        messages.append({"role": _ROLES[role], "content": content.strip()})
    if messages and messages[-1]["role"] == "assistant":
        if messages[-1]["content"]:
            raise ValueError(
                f"prompt ends in an Assistant turn that already has text: {prompt[-80:]!r}"
            )
        messages.pop()
    if not any(m["role"] == "user" and m["content"] for m in messages):
        raise ValueError(f"prompt has no Human text: {prompt[:80]!r}")
    return messages


def render_prompt(tokenizer: Any, prompt: str) -> str:
    """``prompt``'s turns rendered by ``tokenizer``'s chat template, ready for the answer."""
    return tokenizer.apply_chat_template(
        dialogue_messages(prompt), tokenize=False, add_generation_prompt=True
    )


def load_chat_tokenizer(name_or_path: str, trust_remote_code: bool = False) -> Any:
    """A tokenizer that has a chat template (a hub name or a local directory)."""
    from rlhf_text.models import ModelConfig, load_tokenizer

    config = ModelConfig(name_or_path=name_or_path, trust_remote_code=trust_remote_code)
    tokenizer = load_tokenizer(config)
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            f"data.chat_template: the tokenizer of {name_or_path!r} has no chat template"
        )
    return tokenizer


def format_pairs(pairs: Sequence[Any], tokenizer: Any) -> list[Any]:
    """``PreferencePair``s with chat-template prompts and responses without a leading space.

    Each distinct prompt is rendered once (rm-static repeats prompts across rows).
    """
    rendered: dict[str, str] = {}
    out = []
    for pair in pairs:
        if pair.prompt not in rendered:
            rendered[pair.prompt] = render_prompt(tokenizer, pair.prompt)
        out.append(
            replace(
                pair,
                prompt=rendered[pair.prompt],
                chosen=pair.chosen.lstrip(),
                rejected=pair.rejected.lstrip(),
            )
        )
    return out
