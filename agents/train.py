"""The generic training loop: collect, GAE, update, log, checkpoint; resumes exactly."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from agents.checkpoint import (
    capture_rng,
    env_snapshot,
    load_checkpoint,
    restore_env_snapshot,
    restore_rng,
    save_checkpoint,
)
from agents.collect import CollectState, collect_rollout, start_collection
from agents.gae import compute_gae
from agents.logger import (
    MetricsLogger,
    open_metrics_file,
    write_metrics_row,
)
from agents.policy import ActorCritic
from agents.ppo import PPOConfig, ppo_update

CHECKPOINT_NAME = "checkpoint.pt"


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


def _seed_everything(seed: int) -> torch.Generator:
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def limit_cpu_threads(threads: int) -> None:
    """Run torch's CPU ops and numpy's BLAS (the matmuls of the closed-form PPO gradient,
    :mod:`agents.gaussian_grad`) on at most ``threads`` threads each, for the whole process.

    OpenBLAS would otherwise start one thread per core for a ``(256, 64)`` matmul, which on a
    shared or pinned core costs more than it saves; 1 is what this repository's timings use.
    """
    if threads < 1:
        raise ValueError(f"torch_threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    threadpool_limits(threads, user_api="blas")


def train(
    env: gym.vector.VectorEnv,
    policy: ActorCritic,
    optimizer: torch.optim.Optimizer,
    ppo_config: PPOConfig,
    run_config: RunConfig,
    run_dir: str | Path | None = None,
    resume: bool = True,
    stop_after: int | None = None,
    on_iteration: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``policy`` on ``env`` with PPO.

    Args:
        env: a gymnasium VectorEnv (``N = env.num_envs``).
        policy: any ActorCritic; a ``update_normalizer(obs)`` method, if present, is fed the
            rollout's real observations after each update.
        optimizer: over the policy's parameters.
        ppo_config: the update's coefficients.
        run_config: length, learning-rate schedule, seeding, checkpoint interval.
        run_dir: where ``tb/`` (TensorBoard), ``metrics.jsonl`` (see
            :func:`agents.logger.read_metrics`) and ``checkpoint.pt`` go; None keeps nothing.
        resume: continue from ``run_dir/checkpoint.pt`` if it exists.
        stop_after: stop after this many iterations of this call (the run can be resumed).
        on_iteration: called with ``(iteration, metrics)`` after each iteration.

    Returns:
        A :class:`TrainResult` with the metrics of every iteration run by this call.
    """
    limit_cpu_threads(run_config.torch_threads)
    batch_steps = env.num_envs * run_config.num_steps
    num_iterations = max(1, run_config.total_timesteps // batch_steps)
    ckpt_path = Path(run_dir) / CHECKPOINT_NAME if run_dir is not None else None

    generator = _seed_everything(run_config.seed)
    state = start_collection(env, run_config.seed)
    iteration, global_step = 0, 0
    if resume and ckpt_path is not None and ckpt_path.exists():
        iteration, global_step, state = _restore(
            ckpt_path, env, policy, optimizer, generator, state
        )

    logger = MetricsLogger(
        Path(run_dir) / "tb" if run_dir else None, purge_step=global_step or None
    )
    metrics_file = open_metrics_file(run_dir, iteration) if run_dir else None
    bar = tqdm(
        total=num_iterations * batch_steps,
        initial=global_step,
        unit="step",
        disable=not run_config.progress,
        dynamic_ncols=True,
    )
    result = TrainResult(global_step, iteration, 0.0)
    start_time, start_iteration = time.perf_counter(), iteration

    def checkpoint() -> None:
        if ckpt_path is not None:
            save_checkpoint(
                ckpt_path,
                _payload(iteration, global_step, state, env, policy, optimizer, generator),
            )

    try:
        while iteration < num_iterations:
            if stop_after is not None and iteration - start_iteration >= stop_after:
                break
            if run_config.anneal_lr:
                lr = run_config.learning_rate * (1.0 - iteration / num_iterations)
                for group in optimizer.param_groups:
                    group["lr"] = lr
            t0 = time.perf_counter()
            batch, state, episodes = collect_rollout(env, policy, run_config.num_steps, state)
            t1 = time.perf_counter()
            batch.advantages, batch.returns = compute_gae(
                batch.rewards,
                batch.values,
                batch.next_values,
                batch.terminated,
                batch.truncated,
                batch.mask,
                ppo_config.gamma,
                ppo_config.gae_lambda,
            )
            metrics = ppo_update(policy, optimizer, batch, ppo_config, generator)
            if hasattr(policy, "update_normalizer"):
                policy.update_normalizer(batch.observations[batch.mask > 0])
            iteration += 1
            global_step += batch_steps
            metrics.update(episodes.summary())
            metrics["charts/learning_rate"] = optimizer.param_groups[0]["lr"]
            t2 = time.perf_counter()
            metrics["charts/sps"] = batch_steps / (t2 - t0)
            metrics["time/rollout_s"] = t1 - t0  # the same keys as text PPO
            metrics["time/update_s"] = t2 - t1  # GAE, PPO epochs, normaliser
            logger.log(metrics, global_step)
            result.history.append({"global_step": float(global_step), **metrics})
            if metrics_file is not None:
                write_metrics_row(metrics_file, {"iteration": iteration, **result.history[-1]})
            bar.update(batch_steps)
            bar.set_postfix(_postfix(metrics), refresh=False)
            if on_iteration is not None:
                on_iteration(iteration, metrics)
            if iteration % run_config.checkpoint_every == 0:
                checkpoint()
    except KeyboardInterrupt:
        checkpoint()  # nothing lost: the interrupted run resumes from here
        raise
    finally:
        bar.close()
        logger.close()
        if metrics_file is not None:
            metrics_file.close()
    checkpoint()
    result.global_step, result.iterations = global_step, iteration
    result.seconds = time.perf_counter() - start_time
    return result


def _postfix(metrics: dict[str, float]) -> dict[str, str]:
    keys = {
        "rollout/ep_return": "return",
        "rollout/final_is_success": "success",
        "policy/approx_kl": "kl",
    }
    return {short: f"{metrics[k]:.3g}" for k, short in keys.items() if k in metrics}


def _payload(
    iteration: int,
    global_step: int,
    state: CollectState,
    env,
    policy,
    optimizer,
    generator: torch.Generator,
) -> dict:
    return {
        "iteration": iteration,
        "global_step": global_step,
        "policy": policy.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": capture_rng(),
        "generator": generator.get_state(),
        "collect_state": state,
        "env": env_snapshot(env),
    }


def _restore(
    path: Path, env, policy, optimizer, generator: torch.Generator, fresh_state: CollectState
) -> tuple[int, int, CollectState]:
    payload = load_checkpoint(path)
    policy.load_state_dict(payload["policy"])
    try:
        optimizer.load_state_dict(payload["optimizer"])
    except ValueError as error:  # e.g. saved when the optimiser had one tensor per parameter
        raise ValueError(
            f"{path}: the saved optimiser state does not fit this run's optimiser ({error}); "
            "a run saved by an older rlhf-gym may need a fresh start (--fresh)"
        ) from error
    restore_rng(payload["rng"])
    generator.set_state(payload["generator"])
    state = fresh_state
    if payload["env"] is not None and restore_env_snapshot(env, payload["env"]):
        state = payload["collect_state"]
    else:
        import warnings

        warnings.warn(
            "the env has no snapshot (or one of another kind of vector env, see "
            "env.vectorization): resuming from a fresh seeded reset",
            stacklevel=3,
        )
    return payload["iteration"], payload["global_step"], state
