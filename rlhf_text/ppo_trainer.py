"""Step 3 of the text pipeline: PPO with four models, on the one loop of both worlds.

Actor (from step 1) and frozen reference (step 1, or the actor with its LoRA adapters off),
critic (from step 2) and frozen reward model (step 2, inside the text env as its reward).
``agents.train.train`` runs each iteration; :class:`TextPPOParts` adds what text needs:
the reference's log-probs and the KL-shaped rewards before GAE (``rlhf_text.ppo``), the two
engines' stepper, and after the update the options: unsupervised LM-loss mixing, an EMA copy
of the actor, the adaptive KL controller, and tables of sample responses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from agents import ranks
from agents.rollout import RolloutBatch
from agents.run_folder import commit_config, start_run
from agents.train import RunConfig, train
from rlhf_text.data import load_preference_data
from rlhf_text.deepspeed_config import rank_share
from rlhf_text.degeneration import OverOptimisationMonitor, degeneration_stats
from rlhf_text.judge import judge_for
from rlhf_text.ppo import (
    EngineStepper,
    KLController,
    compute_rewards,
    experience_metrics,
    kl_of_log_softmax,
    response_log_softmax,
)
from rlhf_text.ppo_config import LoraConfig, PPOTextConfig, TextEnvConfig
from rlhf_text.ppo_models import PPOModels, build_models, save_best_actor, save_outputs
from rlhf_text.shared_trunk import replay_trunk

__all__ = ["LoraConfig", "PPOModels", "PPOTextConfig", "TextEnvConfig", "TextPPOParts", "run_ppo"]

logger = logging.getLogger(__name__)


def _reference_logprobs(
    models: PPOModels, batch: RolloutBatch, temperature: float, exact_kl: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The reference's log-probs of the response tokens (B, T) and, with ``exact_kl``, the
    exact per-token KL of the actor from it over the vocabulary (B, T).

    The actor's own pass here (for the exact KL) also records its frozen trunk: the
    reference replays it while the two trunks are equal, and so does every update epoch
    (``batch.extras["actor_trunk"]``, :mod:`rlhf_text.shared_trunk`).
    """
    policy = models.policy
    ids, mask, _ = policy.sequences(batch.observations, batch.actions)
    length = batch.actions.shape[1]
    shared = models.shared_blocks if models.reference is not None else 0
    log_p = trunk = None
    if exact_kl or shared or policy.actor_trunk_blocks:
        keep = length if exact_kl else 0  # without the exact KL only the trunk is wanted
        with torch.no_grad(), policy.recording_trunk("actor", batch.extras, (shared,)) as trunk:
            log_p = response_log_softmax(policy.actor, ids, mask, keep, temperature)
    if models.reference is None:  # LoRA: the base weights, adapters off, are the reference
        reference = _adapters_off(policy.actor)
    elif shared and trunk is not None:
        reference = replay_trunk(models.reference, shared, trunk[shared - 1])
    else:
        reference = contextlib.nullcontext(models.reference)
    with torch.no_grad(), reference as model:
        log_q = response_log_softmax(model, ids, mask, length, temperature)  # (B, T, V)
    ref_logprobs = log_q.gather(-1, ids[:, -length:, None]).squeeze(-1)
    if not exact_kl or log_p is None:
        return ref_logprobs, None
    return ref_logprobs, kl_of_log_softmax(log_p, log_q)


@contextlib.contextmanager
def _adapters_off(actor: torch.nn.Module) -> Iterator[torch.nn.Module]:
    with actor.disable_adapter():
        yield actor


def _unsup_step(models: PPOModels, texts: list[str], coef: float, max_len: int) -> float:
    """One LM-loss step on reference texts (DeepSpeed-Chat's unsupervised mixing)."""
    tokenizer = models.tokenizer
    enc = tokenizer(
        [t + tokenizer.eos_token for t in texts],
        return_tensors="pt",
        padding=True,
        truncation=True,
        max_length=max_len,
    )
    enc = {key: value.to(models.device) for key, value in enc.items()}
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    # position ids that start at each text's first real token: with a left-padding
    # tokenizer (the actor's, for generation) the model would otherwise count the padding
    position_ids = (enc["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    out = models.policy.actor(**enc, position_ids=position_ids, labels=labels, use_cache=False)
    models.actor_engine.backward(coef * out.loss)
    models.actor_engine.step()
    return out.loss.item()


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, actor: torch.nn.Module, decay: float) -> None:
    for ema_param, param in zip(ema.parameters(), actor.parameters(), strict=True):
        ema_param.lerp_(param.detach(), 1.0 - decay)


def samples_table(samples: list[tuple[str, str, float]]) -> str:
    """A Markdown table of prompts, responses and scores (TensorBoard's text tab renders it)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ").strip()

    lines = ["| prompt | response | score |", "|---|---|---:|"]
    lines += [f"| {cell(p)} | {cell(r)} | {s:.3f} |" for p, r, s in samples]
    return "\n".join(lines)


class TextPPOParts:
    """What text PPO adds to the shared loop (:class:`agents.train.TrainParts`).

    Before GAE: the frozen reference scores the response tokens and the rewards become
    ``-kl_coef * KL_t`` per token plus the clipped score at the last real token
    (:func:`rlhf_text.ppo.compute_rewards`); the response's end is terminal, so nothing is
    bootstrapped past it. The update steps the actor's and critic's engines. After it:
    unsupervised LM mixing, the EMA actor, the KL controller, a table of samples, and the
    measures that do not trust the reward model: degeneration statistics of the responses
    (``degeneration/*``), an independent judge's score (``judge/score``: the rule-based gold
    judge of :mod:`rlhf_text.judge` on the embedded data) and a warning when the training
    score rises while the judge falls (Gao et al. 2022's over-optimisation).
    """

    keep_observations: Literal["every_step", "first_step"] = "first_step"

    def __init__(self, models: PPOModels, config: PPOTextConfig, unsup_texts: list[str]) -> None:
        self.models, self.config, self.unsup_texts = models, config, unsup_texts
        self.kl_controller = KLController(config.kl)
        self.stepper = EngineStepper(models.actor_engine, models.critic_engine)
        self.collect_device = models.device
        # the latest rollout's: this rank's rows' scores, the whole batch's mean KL
        self._scores, self._kl = torch.zeros(0), 0.0
        self._score_mean = 0.0
        self.judge = judge_for(config.judge, config.data.source)
        self.monitor = OverOptimisationMonitor(window=config.judge_window)
        self.stop = False  # set by the over-optimisation warning with ``judge_stop``

    def before_rollout(self, iteration: int, num_iterations: int) -> dict[str, float]:
        return {"train/lr": self.models.actor_engine.lr}

    def shape_rewards(self, batch: RolloutBatch) -> dict[str, float]:
        config = self.config
        scores = batch.rewards.sum(1)  # the env paid the score on the last real token only
        ref_logprobs, exact_kl = _reference_logprobs(
            self.models, batch, config.sampling.temperature, config.kl.log_exact
        )
        batch.rewards, kl = compute_rewards(
            scores, batch.logprobs, ref_logprobs, batch.mask, self.kl_controller.value,
            config.score_clip, config.kl.estimator,
        )  # fmt: skip
        batch.extras["ref_logprobs"] = ref_logprobs
        metrics = experience_metrics(batch, scores, kl, self.kl_controller.value, exact_kl)
        # the score is the whole return: a response cut at max_new_tokens ends there too
        batch.terminated = batch.terminated | batch.truncated
        batch.truncated = torch.zeros_like(batch.truncated)
        self._scores, self._kl = scores, metrics["objective/kl"]
        self._score_mean = metrics["objective/score"]  # over the whole batch, every rank's
        return metrics

    def after_update(
        self, batch: RolloutBatch, iteration: int, generator: torch.Generator
    ) -> dict[str, float | str]:
        models, config = self.models, self.config
        out: dict[str, float | str] = {}
        if config.unsup_coef > 0 and self.unsup_texts:
            index = torch.randint(
                len(self.unsup_texts), (config.unsup_batch_size,), generator=generator
            )
            # drawn alike on every rank (one generator, one seed); each takes its share
            index = rank_share(index.tolist(), *models.env.prompt_shard)
            texts = [self.unsup_texts[i] for i in index]
            max_len = config.env.max_prompt_len + config.env.max_new_tokens
            out["loss/unsup"] = _unsup_step(models, texts, config.unsup_coef, max_len)
        if models.ema is not None:
            _ema_update(models.ema, models.policy.actor, config.ema_decay)
        self.kl_controller.update(self._kl, config.batch_size)
        out["rollout/prompts_truncated"] = float(models.env.prompts.num_truncated)
        prompts, responses = list(models.env.prompt_texts), self._responses(batch)
        judged = [None] * len(prompts)
        if self.judge is not None:  # each rank judges its own rows
            judged = [float(score) for score in self.judge.score(prompts, responses)]
        # the whole batch's rows, gathered from every rank at once: every rank logs alike
        local = zip(prompts, responses, self._scores.tolist(), judged, strict=True)
        rows = ranks.gather_rows(list(local))
        prompts, responses, scores, judged = (list(column) for column in zip(*rows, strict=True))
        if self.judge is not None:
            out.update(self._judge(iteration, judged))
        out.update(degeneration_stats(responses))
        if iteration % config.sample_every == 0 or iteration == 1:
            samples = list(zip(prompts, responses, scores, strict=True))
            out["samples"] = samples_table(samples[: config.num_samples])
        return out

    def _responses(self, batch: RolloutBatch) -> list[str]:
        lengths = batch.mask.sum(1).long().tolist()
        return self.models.env.tokenizer.batch_decode(
            [batch.actions[i, : lengths[i]].cpu() for i in range(batch.shape[0])],
            skip_special_tokens=True,
        )

    def _training_score(self) -> float:
        """The mean reward-model score of the latest rollout, the whole batch's (what PPO is
        optimising)."""
        return self._score_mean

    def _judge(self, iteration: int, judge_scores: list[float]) -> dict:
        """The judge's mean score of the whole batch, and the over-optimisation check against
        the training score."""
        scores = np.asarray(judge_scores, dtype=np.float64)
        judged, stderr = float(scores.mean()), 0.0
        if scores.size > 1:
            stderr = float(scores.std(ddof=1) / np.sqrt(scores.size))
        warning = self.monitor.update(iteration, self._training_score(), judged, stderr)
        out: dict[str, float | str] = {
            "judge/score": judged,
            "judge/best_iteration": float(self.monitor.best_iteration),
            "judge/overoptimisation": float(warning is not None),
        }
        if self.monitor.best_iteration == iteration:
            save_best_actor(self.models, Path(self.config.run_dir) / "actor_best")
        if warning is not None:
            self.stop = self.config.judge_stop
            stopping = "; stopping (judge_stop), actor_best/ is the best-judged actor"
            logger.warning("iteration %d: %s%s", iteration, warning, stopping * self.stop)
            out["warnings"] = f"iteration {iteration}: {warning}"
        return out

    def checkpoint_state(self, directory: Path) -> Any:
        models = self.models
        models.actor_engine.save_checkpoint(directory / "actor")
        if models.critic_engine is not None:
            models.critic_engine.save_checkpoint(directory / "critic")
        return {
            "kl": self.kl_controller.state_dict(),
            "env_rng": models.env.np_random.bit_generator.state,
            "ema": None if models.ema is None else models.ema.state_dict(),
            "monitor": dataclasses.asdict(self.monitor),
            "stopped": self.stop,
        }

    def restore_checkpoint(self, directory: Path, state: Any) -> None:
        models = self.models
        models.actor_engine.load_checkpoint(directory / "actor")
        if models.critic_engine is not None:
            models.critic_engine.load_checkpoint(directory / "critic")
        self.kl_controller.load_state_dict(state["kl"])
        models.env.np_random.bit_generator.state = state["env_rng"]
        if models.ema is not None and state["ema"] is not None:
            models.ema.load_state_dict(state["ema"])
        self.monitor = OverOptimisationMonitor(**state["monitor"])
        self.stop = bool(state["stopped"])


def optimizer_steps(config: PPOTextConfig) -> int:
    """The actor's optimiser steps over the run (its LR schedule's horizon): the PPO
    minibatches, plus one unsupervised LM step per iteration when mixing is on."""
    per_iteration = config.ppo.update_epochs * config.ppo.num_minibatches
    return config.iterations * (per_iteration + (1 if config.unsup_coef > 0 else 0))


def run_ppo(
    config: PPOTextConfig,
    resume: bool = True,
    stop_after: int | None = None,
    allow_config_change: bool = False,
) -> list[dict[str, float]]:
    """Trains the actor with PPO as configured; returns the metrics of each iteration run.

    The run folder ``config.run_dir`` gets ``config.yaml``, ``tb/`` (TensorBoard: the loss,
    score and KL curves and sample tables), ``metrics.jsonl``, a checkpoint every
    ``checkpoint_every`` iterations and on Ctrl-C (resumed when the same command runs again;
    a changed config is refused unless ``allow_config_change``), and at the end ``actor/``
    (and ``critic/``, ``actor_ema/``) as ``save_pretrained`` directories.
    """
    if config.torch_threads > 0:  # 0 keeps torch's default
        torch.set_num_threads(config.torch_threads)
    resuming = start_run(config.run_dir, config, resume, allow_config_change)
    torch.manual_seed(config.seed)
    data = load_preference_data(config.data)
    models = build_models(config, data, optimizer_steps(config))
    unsup_texts = [pair.chosen_text for pair in data.train] if config.unsup_coef > 0 else []
    parts = TextPPOParts(models, config, unsup_texts)
    steps = config.env.max_new_tokens
    run = RunConfig(
        total_timesteps=config.iterations * models.env.num_envs * steps,  # this rank's share
        num_steps=steps,
        learning_rate=config.actor_optim.learning_rate,  # the engines keep their own schedules
        anneal_lr=False,
        seed=config.seed,
        torch_threads=max(1, torch.get_num_threads()),
        checkpoint_every=config.checkpoint_every,
        progress=config.progress,
    )
    result = train(
        models.env, models.policy, parts, config.ppo, run, config.run_dir, resuming, stop_after,
        on_restored=lambda: commit_config(config.run_dir, config), seed_globals=False,
    )  # fmt: skip
    if result.iterations >= config.iterations or parts.stop:
        save_outputs(models, Path(config.run_dir))
    return result.history
