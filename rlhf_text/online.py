"""Online pairs for human labelling: two sampled answers of the current model per prompt.

The text world's side of the labelling app's online rounds (``rlhf_gym.label``): the actor
of the moment (an SFT or PPO output directory) answers each prompt twice by sampling, and a
person says which answer is better. Only ``transformers`` and this package's model loaders
are used, so any causal LM directory works.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rlhf_text.models import ModelConfig, load_causal_lm, load_tokenizer


@torch.no_grad()
def sample_answer_pairs(
    model: str,
    prompts: Sequence[str],
    seed: int = 0,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    batch_size: int = 8,
    max_tries: int = 3,
) -> list[tuple[str, str, str]]:
    """``(prompt, answer_a, answer_b)`` for each prompt, two samples of ``model``.

    Args:
        model: a causal LM directory (``save_pretrained``) or hub name, with its tokenizer.
        prompts: the prompts, as the model was trained on them.
        seed: seeds the sampling (the same seed gives the same pairs).
        max_new_tokens: most tokens per answer.
        temperature: sampling temperature (1: the model's own distribution).
        batch_size: prompts per ``generate`` call.
        max_tries: a prompt whose two answers come out the same (or empty) is sampled again
            this many times, then dropped (nothing to compare).

    Returns:
        The triples, in prompt order, without the dropped prompts.
    """
    config = ModelConfig(name_or_path=model)
    tokenizer = load_tokenizer(config)
    lm = load_causal_lm(config, tokenizer, seed=seed).eval()
    generator_seed = seed
    pending, answers = list(prompts), {}
    for _ in range(max_tries):
        if not pending:
            break
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            torch.manual_seed(generator_seed)
            generator_seed += 1
            encoded = tokenizer(list(batch) * 2, return_tensors="pt", padding=True)
            output = lm.generate(
                **encoded,
                do_sample=True,
                temperature=temperature,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
            )  # (2B, T_prompt + T_new): the batch twice, so two samples per prompt
            texts = tokenizer.batch_decode(
                output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True
            )
            for index, prompt in enumerate(batch):
                first, second = texts[index], texts[index + len(batch)]
                if first.strip() and second.strip() and first.strip() != second.strip():
                    answers[prompt] = (first, second)
        pending = [prompt for prompt in pending if prompt not in answers]
    return [(prompt, *answers[prompt]) for prompt in prompts if prompt in answers]
