"""Train, evaluate and film a GaussianActorCritic on any Box-action gymnasium env id.

This is the config-driven layer the command line calls for the arm (``configs/arm/*.yaml``
name ``RLHFGym/ArmReach-v0``); it knows nothing arm-specific, so the benchmarks run the same
code on gymnasium's ``Reacher-v5``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch

import envs  # registers the RLHFGym/ env ids
from agents.checkpoint import CheckpointError, load_state_dict_strict, read_checkpoint
from agents.config import ConfigError, from_dict, read_mapping
from agents.flat import flatten_parameters
from agents.gaussian import GaussianActorCritic
from agents.ppo import PPOConfig
from agents.run_folder import CONFIG_NAME, commit_config, start_run
from agents.train import RunConfig, TrainResult, cpu_threads, train
from rlhf_arm.video import record_video  # noqa: F401 - its old home; imports keep working


@dataclass
class EnvConfig:
    """Which environment, how many copies."""

    id: str = "RLHFGym/ArmReach-v0"
    """a registered gymnasium id (or ``module:Id``)"""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """constructor arguments, e.g. reward weights, ``control_mode`` or ``reward_fn``"""
    num_envs: int = 8
    """parallel copies (B)"""
    vectorization: Literal["native", "sync", "async"] = "native"
    """'native': the env's own batched class where its registration names one (ArmReach's
    `ArmReachVectorEnv`), else 'sync'; 'sync' steps wrapped copies in this process; both
    resume exactly; 'async' uses subprocesses"""

    def __post_init__(self) -> None:
        if self.num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {self.num_envs}")


@dataclass
class PolicyConfig:
    """The Gaussian MLP policy."""

    hidden: tuple[int, ...] = (64, 64)
    """hidden widths of the actor and the critic"""
    init_log_std: float = 0.0
    """initial log standard deviation of the actions"""
    normalize_observations: bool = True
    """running mean/std observation normalisation (saved with checkpoints)"""


@dataclass
class ContinuousConfig:
    """Everything one continuous-control PPO run needs."""

    env: EnvConfig = field(default_factory=EnvConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    run: RunConfig = field(default_factory=RunConfig)
    run_dir: str = "runs/arm-reach"
    """checkpoints, TensorBoard logs and the resolved config go here"""


def make_vector_env(
    env_config: EnvConfig, num_envs: int | None = None, **extra: Any
) -> gym.vector.VectorEnv:
    """``gymnasium.make_vec`` of the configured env (``extra`` adds constructor kwargs).

    Raises:
        ConfigError: ``env.id`` is not registered.
        ValueError: ``env.kwargs`` names an argument the env does not take (and the closest
            one it does), before anything is built.
    """
    kwargs = {**env_config.kwargs, **extra}
    try:
        envs.check_env_kwargs(env_config.id, kwargs)
        return gym.make_vec(
            env_config.id,
            num_envs=num_envs or env_config.num_envs,
            # None: make_vec takes the registration's vector_entry_point if it has one
            vectorization_mode=None
            if env_config.vectorization == "native"
            else env_config.vectorization,
            **kwargs,
        )
    except gym.error.Error as err:
        raise ConfigError(f"env.id {env_config.id!r}: {err}") from err


def build_policy(config: ContinuousConfig, env: gym.vector.VectorEnv) -> GaussianActorCritic:
    obs_space, act_space = env.single_observation_space, env.single_action_space
    if not isinstance(act_space, gym.spaces.Box) or not isinstance(obs_space, gym.spaces.Box):
        raise ConfigError(
            f"{config.env.id}: GaussianActorCritic needs Box observations and actions"
        )
    return GaussianActorCritic(
        int(np.prod(obs_space.shape)),
        int(np.prod(act_space.shape)),
        hidden=tuple(config.policy.hidden),
        init_log_std=config.policy.init_log_std,
        normalize_observations=config.policy.normalize_observations,
    )


def make_optimizer(policy: GaussianActorCritic, run: RunConfig) -> torch.optim.Adam:
    """Adam over the policy's parameters as one flat buffer (:mod:`agents.flat`), fused: one
    kernel for the whole step instead of a Python loop over the parameters, which is most of
    a small MLP's optimiser time on CPU (``benchmarks/arm_step_cost.py``)."""
    flat = flatten_parameters(policy)
    return torch.optim.Adam([flat], lr=run.learning_rate, eps=run.adam_eps, fused=True)


def train_from_config(
    config: ContinuousConfig,
    resume: bool = True,
    stop_after: int | None = None,
    allow_config_change: bool = False,
) -> TrainResult:
    """Train as configured; the resolved config is saved as ``run_dir/config.yaml``.

    Resuming a run under a changed config is refused (see :func:`agents.run_folder.check_resume`)
    unless ``allow_config_change``; the config file is rewritten only once the checkpoint is
    restored.
    """
    run_dir = Path(config.run_dir)
    resuming = start_run(run_dir, config, resume, allow_config_change)
    # threads first: the orthogonal initialisation's QR rounds differently on 1 and 2 threads;
    # the caller's counts come back afterwards (the demo's text models use every core)
    with cpu_threads(config.run.torch_threads):
        torch.manual_seed(config.run.seed)  # the policy's initial weights
        env = make_vector_env(config.env)
        try:
            policy = build_policy(config, env)
            optimizer = make_optimizer(policy, config.run)
            return train(
                env, policy, optimizer, config.ppo, config.run, run_dir, resuming, stop_after,
                on_restored=lambda: commit_config(run_dir, config),
            )  # fmt: skip
        finally:
            env.close()


def load_run(run_dir: str | Path) -> tuple[ContinuousConfig, GaussianActorCritic]:
    """The config and trained policy of a run folder written by :func:`train_from_config`.

    Opening a run folder from elsewhere is safe: the checkpoint is JSON and safetensors, and
    nothing in it is executed (:mod:`agents.checkpoint`).
    """
    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG_NAME
    if not run_dir.is_dir():
        raise FileNotFoundError(f"checkpoint directory not found: {run_dir}")
    if not config_path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: it has no {CONFIG_NAME}")
    data = read_mapping(config_path, "run config")
    if {"arm", "text"} <= set(data):  # `rlhf-gym demo`'s folder, one above the arm's run
        raise FileNotFoundError(
            f"{run_dir} is a demo's folder: name its arm run, {run_dir / 'arm'}"
        )
    config = from_dict(ContinuousConfig, data)
    env = make_vector_env(config.env, num_envs=1)
    policy = build_policy(config, env)
    env.close()
    # the policy as every arm run saves it: OptimizerParts' state (agents.train)
    saved = read_checkpoint(run_dir)["parts"].get("parts")
    if not isinstance(saved, dict) or "policy" not in saved:
        raise CheckpointError(f"{run_dir}: the checkpoint holds no policy")
    load_state_dict_strict(policy, saved["policy"], f"{run_dir}: the policy")
    policy.eval()
    return config, policy


@torch.no_grad()
def evaluate_policy(
    policy: GaussianActorCritic,
    env_config: EnvConfig,
    episodes: int = 100,
    seed: int = 12345,
    deterministic: bool = True,
    num_envs: int = 10,
) -> dict[str, float]:
    """Run ``episodes`` whole episodes and report what their final steps say.

    Each sub-env runs its own quota of episodes, so short and long episodes are weighted
    alike. Returns ``episodes``, ``mean_return``, and ``success_rate`` and
    ``mean_final_distance`` when the env reports ``is_success`` and ``distance``.
    """
    num_envs = min(num_envs, episodes)
    quota = np.full(num_envs, episodes // num_envs)
    quota[: episodes % num_envs] += 1
    env = make_vector_env(env_config, num_envs=num_envs)
    low, high = env.single_action_space.low, env.single_action_space.high
    obs, _ = env.reset(seed=seed)
    returns = np.zeros(num_envs)
    results: dict[str, list[float]] = {"return": [], "is_success": [], "distance": []}
    done_count = np.zeros(num_envs, int)
    reset_next = np.zeros(num_envs, bool)
    while (done_count < quota).any():
        actions = policy.act(torch.as_tensor(obs, dtype=torch.float32), deterministic=deterministic)
        obs, reward, term, trunc, info = env.step(np.clip(actions.actions.numpy(), low, high))
        counting = ~reset_next & (done_count < quota)
        returns += reward * counting
        for i in np.flatnonzero((term | trunc) & counting):
            results["return"].append(float(returns[i]))
            for key in ("is_success", "distance"):
                if key in info:
                    results[key].append(float(info[key][i]))
            done_count[i] += 1
        returns[term | trunc] = 0.0
        reset_next = term | trunc
    env.close()
    out = {"episodes": float(episodes), "mean_return": float(np.mean(results["return"]))}
    if results["is_success"]:
        out["success_rate"] = float(np.mean(results["is_success"]))
    if results["distance"]:
        out["mean_final_distance"] = float(np.mean(results["distance"]))
    return out
