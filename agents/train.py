"""THE training loop of both worlds: collect, shape, GAE, update, log, checkpoint; resumes
exactly.

One iteration, for the arm and for text alike::

    parts.before_rollout        the learning-rate schedule
    collect_rollout             RolloutBatch [B, T] from the vector env
    parts.shape_rewards         text: KL against the reference, the clipped score at the end
    compute_gae                 advantages and returns
    ppo_update                  epochs x minibatches through parts.stepper
    parts.after_update          arm: the observation normaliser; text: LM mixing, EMA, KL
                                controller, sample tables
    log, checkpoint             TensorBoard + metrics.jsonl; every checkpoint_every iterations

What differs between the worlds lives in a :class:`TrainParts` object
(:class:`OptimizerParts` for a policy with one torch optimiser, the arm's;
``rlhf_text.ppo_trainer.TextPPOParts`` for the four text models). Checkpoints are written
only between iterations, where the state is consistent (:mod:`agents.checkpoint`,
:mod:`agents.interrupt`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from tqdm.auto import tqdm

from agents import ranks
from agents.checkpoint import (
    capture_rng,
    env_snapshot,
    has_checkpoint,
    load_checkpoint,
    load_state_dict_strict,
    restore_env_snapshot,
    restore_rng,
    save_checkpoint,
)
from agents.collect import CollectState, collect_rollout, start_collection
from agents.cpu_threads import cpu_threads, limit_cpu_threads  # noqa: F401 (re-exported)
from agents.gae import compute_gae
from agents.interrupt import DeferredInterrupt
from agents.logger import MetricsLogger, open_metrics_file, write_metrics_row
from agents.policy import ActorCritic, NormalizesObservations
from agents.ppo import PPOConfig, Stepper, TorchStepper, ppo_update
from agents.rollout import RolloutBatch


@dataclass
class RunConfig:
    """How long to train and how to log and checkpoint."""

    total_timesteps: int = 1_000_000
    """environment steps over all envs"""
    num_steps: int = 256
    """steps per env per rollout (T)"""
    learning_rate: float = 3e-4
    """Adam step size"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over the run"""
    adam_eps: float = 1e-5
    """Adam epsilon (CleanRL's 1e-5)"""
    seed: int = 1
    """seeds the env resets, torch, numpy and minibatch shuffling"""
    torch_threads: int = 1
    """CPU threads of torch and of numpy's BLAS (see :func:`limit_cpu_threads`); small MLPs run
    fastest with 1"""
    checkpoint_every: int = 10
    """iterations between checkpoints (a final one is always written)"""
    progress: bool = True
    """show a progress bar"""

    def __post_init__(self) -> None:
        if self.total_timesteps < 1 or self.num_steps < 1:
            raise ValueError("total_timesteps and num_steps must be >= 1")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")


@dataclass
class TrainResult:
    global_step: int
    iterations: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


class TrainParts(Protocol):
    """What a world adds to the loop: its stepper, its hooks and the state they keep.

    Attributes:
        stepper: turns the PPO loss terms into a parameter update.
        collect_device: where rollouts are collected (the policy's device).
        keep_observations: ``collect_rollout``'s option ('first_step' for text).
        stop: set to end the run early, as if finished (text: the judge says PPO has begun
            to over-optimise); part of the world's checkpointed state.
    """

    stepper: Stepper
    collect_device: torch.device | str
    keep_observations: Literal["every_step", "first_step"]
    stop: bool

    def before_rollout(self, iteration: int, num_iterations: int) -> dict[str, float]:
        """Called before each rollout (``iteration`` counts from 0); returns metrics."""
        ...

    def shape_rewards(self, batch: RolloutBatch) -> dict[str, float]:
        """Rewrite ``batch.rewards`` (and its termination flags) before GAE; returns metrics."""
        ...

    def after_update(
        self, batch: RolloutBatch, iteration: int, generator: torch.Generator
    ) -> dict[str, float | str]:
        """Called after the PPO update; float values are metrics, str values Markdown texts."""
        ...

    def checkpoint_state(self, directory: Path) -> Any: ...

    def restore_checkpoint(self, directory: Path, state: Any) -> None: ...


class OptimizerParts:
    """A policy trained by one torch optimiser (the arm): a linearly annealed learning rate
    and, for a policy that normalises its observations, the normaliser's update."""

    keep_observations: Literal["every_step", "first_step"] = "every_step"
    collect_device = "cpu"
    stop = False

    def __init__(
        self, policy: ActorCritic, optimizer: torch.optim.Optimizer, run_config: RunConfig
    ) -> None:
        self.policy, self.optimizer, self.run_config = policy, optimizer, run_config
        self.stepper = TorchStepper(optimizer)

    def before_rollout(self, iteration: int, num_iterations: int) -> dict[str, float]:
        if self.run_config.anneal_lr:
            lr = self.run_config.learning_rate * (1.0 - iteration / num_iterations)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        return {"train/lr": float(self.optimizer.param_groups[0]["lr"])}

    def shape_rewards(self, batch: RolloutBatch) -> dict[str, float]:
        return {}

    def after_update(
        self, batch: RolloutBatch, iteration: int, generator: torch.Generator
    ) -> dict[str, float | str]:
        if isinstance(self.policy, NormalizesObservations):
            self.policy.update_normalizer(batch.observations[batch.mask > 0])
        return {}

    def checkpoint_state(self, directory: Path) -> Any:
        return {"policy": self.policy.state_dict(), "optimizer": self.optimizer.state_dict()}

    def restore_checkpoint(self, directory: Path, state: Any) -> None:
        load_state_dict_strict(self.policy, state["policy"], f"{directory.parent}: the policy")
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as error:
            raise ValueError(
                f"{directory.parent}: the saved optimiser state does not fit this run's "
                f"optimiser ({error}); start afresh (--fresh)"
            ) from error


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global RNGs."""
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class _LoopState:
    """What the loop itself carries between iterations (and into checkpoints)."""

    iteration: int
    global_step: int
    collect: CollectState
    generator: torch.Generator

    def to_tree(self, env: gym.vector.VectorEnv, fresh_rows: bool) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "global_step": self.global_step,
            "rng": capture_rng(),
            "generator": self.generator.get_state(),
            # an env reset before every rollout carries nothing between them
            "collect": None if fresh_rows else vars(self.collect),
            "env": env_snapshot(env),
        }

    def restore(self, tree: dict[str, Any], env: gym.vector.VectorEnv) -> None:
        self.iteration, self.global_step = int(tree["iteration"]), int(tree["global_step"])
        restore_rng(tree["rng"])
        self.generator.set_state(tree["generator"])
        if tree["collect"] is None:
            return
        if tree["env"] is not None and restore_env_snapshot(env, tree["env"]):
            self.collect = CollectState(**tree["collect"])
        else:
            import warnings

            warnings.warn(
                "the env has no snapshot (or one of another kind of vector env, see "
                "env.vectorization): resuming from a fresh seeded reset",
                stacklevel=3,
            )


def _autoreset_mode(env: gym.vector.VectorEnv) -> AutoresetMode:
    return env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)


def train(
    env: gym.vector.VectorEnv,
    policy: ActorCritic,
    parts: TrainParts | torch.optim.Optimizer,
    ppo_config: PPOConfig,
    run_config: RunConfig,
    run_dir: str | Path | None = None,
    resume: bool = True,
    stop_after: int | None = None,
    on_iteration: Callable[[int, dict[str, float]], None] | None = None,
    on_restored: Callable[[], None] | None = None,
    seed_globals: bool = True,
) -> TrainResult:
    """Train ``policy`` on ``env`` with PPO: the one loop of both worlds.

    Args:
        env: a gymnasium VectorEnv (``B = env.num_envs``). An env whose autoreset mode is
            ``DISABLED`` (text: one response per prompt) is reset before every rollout.
        policy: any ActorCritic.
        parts: the world's :class:`TrainParts`, or a torch optimiser over the policy's
            parameters (wrapped in :class:`OptimizerParts`).
        ppo_config: the update's coefficients.
        run_config: length (``total_timesteps // (B * num_steps)`` iterations), seeding,
            checkpoint interval, threads.
        run_dir: where ``tb/`` (TensorBoard), ``metrics.jsonl`` (see
            :func:`agents.logger.read_metrics`) and the checkpoint go; None keeps nothing.
        resume: continue from ``run_dir``'s checkpoint if it has one.
        stop_after: stop after this many iterations of this call (the run can be resumed).
        on_iteration: called with ``(iteration, metrics)`` after each iteration.
        on_restored: called once a checkpoint has been restored (a run folder records its
            config only then: :func:`agents.run_folder.commit_config`).
        seed_globals: seed Python's, NumPy's and torch's RNGs with ``run_config.seed`` first;
            False when the caller seeded them before building its models (text PPO), so
            sampling continues from there. The shuffling generator and the env's first
            reset are seeded either way.

    Returns:
        A :class:`TrainResult` with the metrics of every iteration run by this call.
    """
    if isinstance(parts, torch.optim.Optimizer):
        parts = OptimizerParts(policy, parts, run_config)
    # the caller's thread counts come back afterwards: the demo trains the arm on 1 thread,
    # then the language models in the same process on every core
    with cpu_threads(run_config.torch_threads):
        batch_steps = env.num_envs * run_config.num_steps
        num_iterations = max(1, run_config.total_timesteps // batch_steps)
        fresh_rows = _autoreset_mode(env) == AutoresetMode.DISABLED

        if seed_globals:
            seed_everything(run_config.seed)
        generator = torch.Generator().manual_seed(run_config.seed)
        loop = _LoopState(0, 0, start_collection(env, run_config.seed), generator)
        if resume and run_dir is not None and has_checkpoint(run_dir):
            loop.restore(load_checkpoint(run_dir, {"parts": parts}), env)
            if on_restored is not None:
                on_restored()

        logger = MetricsLogger(Path(run_dir) / "tb" if run_dir else None, loop.global_step or None)
        # one writer per run: the other ranks of a multi-process run log the same numbers
        main_rank = ranks.rank() == 0
        metrics_file = open_metrics_file(run_dir, loop.iteration) if run_dir and main_rank else None
        bar = tqdm(
            total=num_iterations * batch_steps,
            initial=loop.global_step,
            unit="step",
            disable=not (run_config.progress and main_rank),
            dynamic_ncols=True,
        )
        result = TrainResult(loop.global_step, loop.iteration, 0.0)
        start_time, start_iteration = time.perf_counter(), loop.iteration

        def checkpoint() -> None:
            if run_dir is not None:
                save_checkpoint(
                    run_dir, loop.iteration, loop.to_tree(env, fresh_rows), {"parts": parts}
                )

        try:
            with DeferredInterrupt() as interrupt:
                while loop.iteration < num_iterations:
                    if parts.stop or (
                        stop_after is not None and loop.iteration - start_iteration >= stop_after
                    ):
                        break
                    t0 = time.perf_counter()
                    metrics = dict(parts.before_rollout(loop.iteration, num_iterations))
                    if fresh_rows:
                        loop.collect = start_collection(env, seed=None)  # the env's RNG draws
                    batch, loop.collect, episodes = collect_rollout(
                        env, policy, run_config.num_steps, loop.collect,
                        parts.collect_device, parts.keep_observations,
                    )  # fmt: skip
                    batch = batch.to(parts.collect_device)  # text on a GPU: one device for all
                    t1 = time.perf_counter()
                    metrics.update(parts.shape_rewards(batch))
                    batch.advantages, batch.returns = compute_gae(
                        batch.rewards, batch.values, batch.next_values, batch.terminated,
                        batch.truncated, batch.mask, ppo_config.gamma, ppo_config.gae_lambda,
                    )  # fmt: skip
                    metrics.update(ppo_update(policy, parts.stepper, batch, ppo_config, generator))
                    extras = parts.after_update(batch, loop.iteration + 1, generator)
                    loop.iteration += 1
                    loop.global_step += batch_steps
                    metrics.update(episodes.over_ranks().summary())
                    metrics.update({k: v for k, v in extras.items() if not isinstance(v, str)})
                    t2 = time.perf_counter()
                    metrics["time/sps"] = batch_steps / (t2 - t0)
                    metrics["time/rollout_s"] = t1 - t0
                    metrics["time/update_s"] = t2 - t1  # shaping, GAE, PPO epochs, after_update
                    metrics["time/iteration_s"] = t2 - t0
                    logger.log(metrics, loop.global_step)
                    for tag, markdown in extras.items():
                        if isinstance(markdown, str):
                            logger.text(tag, markdown, loop.global_step)
                    row = {
                        "iteration": float(loop.iteration),
                        "global_step": float(loop.global_step),
                        **metrics,
                    }
                    result.history.append(row)
                    if metrics_file is not None:
                        write_metrics_row(metrics_file, row)
                    bar.update(batch_steps)
                    bar.set_postfix(_postfix(metrics), refresh=False)
                    if on_iteration is not None:
                        on_iteration(loop.iteration, metrics)
                    due = loop.iteration % run_config.checkpoint_every == 0 or parts.stop
                    interrupt.boundary(checkpoint, due)
                else:
                    checkpoint()  # the final one
        finally:
            bar.close()
            logger.close()
            if metrics_file is not None:
                metrics_file.close()
        if stop_after is not None and loop.iteration < num_iterations:
            checkpoint()
        result.global_step, result.iterations = loop.global_step, loop.iteration
        result.seconds = time.perf_counter() - start_time
        return result


def _postfix(metrics: dict[str, float]) -> dict[str, str]:
    keys = {
        "rollout/ep_return": "return",
        "rollout/final_is_success": "success",
        "objective/score": "score",
        "objective/kl": "kl",
        "objective/kl_exact": "kl",  # where logged: the exact KL, never negative, wins
        "policy/approx_kl": "approx_kl",
    }
    return {short: f"{metrics[k]:.3g}" for k, short in keys.items() if k in metrics}
