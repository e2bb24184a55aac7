"""Step 3's four models and what a run writes of them.

:func:`build_models` loads the actor (from step 1), the frozen reference (step 1 again, or
the actor with its LoRA adapters off), the critic (from step 2) and the text env with the
reward model inside it, and wraps actor and critic in their training engines. The
``save_*`` functions write ``save_pretrained`` directories: the final ``actor/``,
``critic/`` and ``actor_ema/``, and ``actor_best/`` (the best-judged actor so far).
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from agents import ranks
from envs.text_gen import TextGenVectorEnv
from rlhf_text.data import PreferenceData, prompts
from rlhf_text.deepspeed_config import init_distributed
from rlhf_text.engine import TrainEngine
from rlhf_text.models import load_causal_lm, load_tokenizer, load_value_model
from rlhf_text.policy import TokenActorCritic
from rlhf_text.ppo_config import LoraConfig, PPOTextConfig
from rlhf_text.shared_trunk import frozen_bottom_blocks, shared_frozen_blocks

logger = logging.getLogger(__name__)


@dataclass
class PPOModels:
    """The four models (the reward model lives in the env) and the two training engines."""

    tokenizer: Any
    policy: TokenActorCritic
    reference: torch.nn.Module | None  # None: the actor with LoRA adapters disabled
    actor_engine: TrainEngine
    critic_engine: TrainEngine | None
    env: TextGenVectorEnv
    ema: torch.nn.Module | None = None
    device: torch.device = torch.device("cpu")
    shared_blocks: int = 0
    """bottom blocks the actor keeps frozen and equal to the reference's: the reference
    pass replays them from the actor's pass (:mod:`rlhf_text.shared_trunk`)"""


def _apply_lora(actor: torch.nn.Module, lora: LoraConfig) -> torch.nn.Module:
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    peft_config = PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(actor, peft_config)


def batch_shard(config: PPOTextConfig) -> tuple[int, int]:
    """(this rank, ranks): the share of each iteration's ``batch_size`` prompts this process
    collects. Under DeepSpeed with N ranks each collects every N-th prompt of the batch one
    process would (:func:`agents.ranks.shard`), sampled as one process would sample it
    (:mod:`rlhf_text.sampling`); the batch must be a multiple of N."""
    if config.deepspeed is None:
        return 0, 1
    init_distributed()  # the ranks must be known before the env draws its first prompts
    rank, world = ranks.rank(), ranks.world_size()
    if config.batch_size % world:
        raise ValueError(
            f"ppo.batch_size={config.batch_size} cannot be shared out by {world} ranks: make "
            f"it a multiple of {world}"
        )
    if config.unsup_coef > 0 and config.unsup_batch_size < world:
        raise ValueError(
            f"ppo.unsup_batch_size={config.unsup_batch_size} cannot be shared out by {world} "
            f"ranks: make it at least {world}"
        )
    return rank, world


def build_models(config: PPOTextConfig, data: PreferenceData, steps: int) -> PPOModels:
    """Loads actor, reference and critic, builds the env (with the reward model) and engines."""
    tokenizer = load_tokenizer(config.actor)
    actor = load_causal_lm(config.actor, tokenizer)
    reference = None
    if config.lora is not None:
        actor = _apply_lora(actor, config.lora)
    else:
        reference = load_causal_lm(config.reference or config.actor, tokenizer)
        reference.eval().requires_grad_(False)
    critic = load_value_model(config.critic, tokenizer) if config.critic is not None else None
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu")
        if config.device == "auto"
        else config.device
    )
    if config.deepspeed is None:
        actor.to(device)
        if critic is not None:
            critic.to(device)
    entropy_grad = config.ppo.ent_coef != 0
    policy = TokenActorCritic(actor, critic, config.sampling, entropy_grad).to(device)
    shard = batch_shard(config)
    policy.sample_shard = shard
    vocab = max(len(tokenizer), actor.get_input_embeddings().num_embeddings)
    env = TextGenVectorEnv(
        config.batch_size // shard[1],
        tokenizer,
        prompts(data, "train"),
        config.reward,
        max_prompt_len=config.env.max_prompt_len,
        max_new_tokens=config.env.max_new_tokens,
        stop_token_ids=config.env.stop_token_ids,
        vocab_size=vocab,
        prompt_truncation=config.env.prompt_truncation,
        chat_template=config.env.chat_template,
        prompt_shard=shard,
    )
    trainable = actor if critic is not None else policy  # shared: the head trains with the actor
    actor_engine = TrainEngine(trainable, config.actor_optim, steps, config.deepspeed)
    critic_engine = (
        TrainEngine(critic, config.critic_optim, steps, config.deepspeed) if critic else None
    )
    device = next(policy.actor.parameters()).device  # DeepSpeed may have moved it
    if reference is not None:
        reference.to(device)
    ema = None
    if config.ema_decay is not None:
        ema = copy.deepcopy(policy.actor).eval().requires_grad_(False)
    shared = 0
    if config.deepspeed is None:  # a DeepSpeed engine's modules stay as it wrapped them
        policy.actor_trunk_blocks = frozen_bottom_blocks(policy.actor)
        policy.critic_trunk_blocks = frozen_bottom_blocks(critic) if critic is not None else 0
        if reference is not None:
            shared = shared_frozen_blocks(policy.actor, reference)
        logger.info(
            "frozen bottom blocks run once per iteration: actor %d, critic %d, shared with "
            "the reference %d", policy.actor_trunk_blocks, policy.critic_trunk_blocks, shared,
        )  # fmt: skip
    return PPOModels(
        tokenizer, policy, reference, actor_engine, critic_engine, env, ema, device, shared
    )


def save_lm(model: torch.nn.Module, directory: Path, tokenizer: Any) -> None:
    """A plain ``save_pretrained`` directory; LoRA adapters are merged in first."""
    if hasattr(model, "merge_and_unload"):
        model = copy.deepcopy(model).merge_and_unload()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def save_best_actor(models: PPOModels, directory: Path) -> None:
    """The actor as a ``save_pretrained`` directory, replacing the previous best: written
    aside, then moved into place."""
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_lm(models.policy.actor, tmp, models.tokenizer)
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(tmp, directory)


def save_outputs(models: PPOModels, run_dir: Path) -> None:
    actor = models.policy.actor
    if hasattr(actor, "merge_and_unload") or models.critic_engine is None:
        # LoRA, or an engine over actor + shared head: write the language model itself
        save_lm(actor, run_dir / "actor", models.tokenizer)
    else:
        models.actor_engine.save_pretrained(run_dir / "actor", models.tokenizer)
    if models.critic_engine is not None:
        models.critic_engine.save_pretrained(run_dir / "critic", models.tokenizer)
    if models.ema is not None:
        save_lm(models.ema, run_dir / "actor_ema", models.tokenizer)
