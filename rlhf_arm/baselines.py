"""What the arm benchmarks share: stable-baselines3's PPO set up like ours, one evaluation of
any predictor on the same seeded episodes, and a timer.

``benchmarks/arm_vs_sb3.py``, ``arm_prefs.py``, ``obs_norm_variants.py`` and
``arm_step_cost.py`` import these from here rather than from each other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from rlhf_arm.experiment import ContinuousConfig, EnvConfig, make_vector_env, train_from_config


def best_time(run: Callable[[], None], repeats: int) -> float:
    """Smallest wall time of `repeats` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def final_distance(env_id: str, info: dict, i: int) -> float:
    if "distance" in info:
        return float(info["distance"][i])
    return float(-info["reward_dist"][i])  # Reacher-v5: reward_dist = -distance (weight 1)


def evaluate(predict, env_config: EnvConfig, episodes: int, seed: int = 12345) -> dict:
    """Deterministic evaluation: ``predict(raw_obs [N, D]) -> actions [N, A]``."""
    num_envs = 10
    env = make_vector_env(replace(env_config, vectorization="sync"), num_envs=num_envs)
    low, high = env.single_action_space.low, env.single_action_space.high
    obs, _ = env.reset(seed=seed)
    per_env = episodes // num_envs
    count, returns = np.zeros(num_envs, int), np.zeros(num_envs)
    out = {"return": [], "distance": [], "success": []}
    reset_next = np.zeros(num_envs, bool)
    while (count < per_env).any():
        obs, reward, term, trunc, info = env.step(np.clip(predict(obs), low, high))
        live = ~reset_next & (count < per_env)
        returns += reward * live
        for i in np.flatnonzero((term | trunc) & live):
            out["return"].append(returns[i])
            d = final_distance(env_config.id, info, i)
            out["distance"].append(d)
            out["success"].append(
                float(info["is_success"][i]) if "is_success" in info else float(d < 0.05)
            )
            count[i] += 1
        returns[term | trunc] = 0.0
        reset_next = term | trunc
    env.close()
    return {k: float(np.mean(v)) for k, v in out.items()}


def run_ours(config: ContinuousConfig, seed: int, run_dir: str) -> tuple[dict, float]:
    config = replace(config, run=replace(config.run, seed=seed, progress=False), run_dir=run_dir)
    start, cpu_start = time.perf_counter(), time.process_time()
    train_from_config(config, resume=False)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    from rlhf_arm.experiment import load_run

    _, policy = load_run(run_dir)

    def predict(obs):
        with torch.no_grad():
            return policy.act(torch.as_tensor(obs, dtype=torch.float32), deterministic=True)[
                0
            ].numpy()

    return {**evaluate(predict, config.env, 100), "cpu_seconds": cpu_seconds}, seconds


def sb3_venv(config: ContinuousConfig, seed: int):
    """The configured env as SB3 vectorises it, with observation normalisation only."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    venv = make_vec_env(
        config.env.id, n_envs=config.env.num_envs, seed=seed, env_kwargs=config.env.kwargs
    )
    return VecNormalize(venv, norm_obs=True, norm_reward=False, clip_obs=10.0)


def sb3_ppo(config: ContinuousConfig, venv, seed: int, anneal_lr: bool | None = None):
    """SB3's PPO with our config's coefficients, network and (unless ``anneal_lr`` says
    otherwise) learning-rate schedule. The coefficients give the same loss: SB3's value
    term is ``vf_coef * mean((R - V)^2)`` and ours ``vf_coef * 0.5 * mean((R - V)^2)``
    (CleanRL's), so SB3 gets half our ``vf_coef``. Because the gradient-norm clip acts on
    actor and critic together, the value term's scale changes the actor's steps too."""
    from stable_baselines3 import PPO

    ppo, run = config.ppo, config.run
    batch = config.env.num_envs * run.num_steps
    lr = run.learning_rate
    anneal = run.anneal_lr if anneal_lr is None else anneal_lr
    return PPO(
        "MlpPolicy",
        venv,
        seed=seed,
        device="cpu",
        verbose=0,
        n_steps=run.num_steps,
        batch_size=batch // ppo.num_minibatches,
        n_epochs=ppo.update_epochs,
        learning_rate=(lambda progress: lr * progress) if anneal else lr,
        gamma=ppo.gamma,
        gae_lambda=ppo.gae_lambda,
        clip_range=ppo.clip_coef,
        clip_range_vf=ppo.value_clip_coef,
        ent_coef=ppo.ent_coef,
        # the same value loss: SB3's is vf_coef * MSE, ours (CleanRL's) vf_coef * MSE / 2
        vf_coef=ppo.vf_coef / 2,
        max_grad_norm=ppo.max_grad_norm if ppo.max_grad_norm is not None else 1e9,
        target_kl=ppo.target_kl,
        normalize_advantage=ppo.norm_adv,
        policy_kwargs={
            "net_arch": {"pi": list(config.policy.hidden), "vf": list(config.policy.hidden)},
            "activation_fn": torch.nn.Tanh,
            "log_std_init": config.policy.init_log_std,
        },
    )


def run_sb3(config: ContinuousConfig, seed: int) -> tuple[dict, float]:
    start, cpu_start = time.perf_counter(), time.process_time()
    venv = sb3_venv(config, seed)
    model = sb3_ppo(config, venv, seed)
    model.learn(total_timesteps=config.run.total_timesteps)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    venv.training = False

    def predict(obs):
        return model.predict(venv.normalize_obs(obs), deterministic=True)[0]

    return {**evaluate(predict, config.env, 100), "cpu_seconds": cpu_seconds}, seconds


def train_then_evaluate(
    config: ContinuousConfig, episodes: int = 100, eval_kwargs: dict | None = None
) -> dict[str, float]:
    """Trains (resuming a stopped run in ``config.run_dir``), then evaluates deterministically.

    The evaluation env is the training env with ``eval_kwargs`` laid over its constructor
    arguments: ``{"random_start_fraction": 0.0}`` evaluates from the rest pose only, a
    ``randomization`` mapping on a perturbed arm. Returns the success rate, mean final
    distance, training seconds and steps.
    """
    from rlhf_arm.experiment import evaluate_policy, load_run

    result = train_from_config(config, resume=True)
    _, policy = load_run(config.run_dir)
    env_config = replace(config.env, kwargs={**config.env.kwargs, **(eval_kwargs or {})})
    metrics = evaluate_policy(policy, env_config, episodes=episodes, seed=12345)
    return {**metrics, "train_seconds": result.seconds, "global_step": result.global_step}


def seeded_run_overrides(overrides: list[str], seed: int, steps: int, run_dir: Path) -> list[str]:
    """A benchmark run's config overrides: the caller's, then seed, budget and run folder
    (no progress bar: the benchmarks print one JSON line per finished run instead)."""
    return [*overrides, f"run.seed={seed}", f"run.total_timesteps={steps}",
            f"run_dir={run_dir}", "run.progress=false"]  # fmt: skip


def record_row(out: Path, rows: list[dict], row: dict) -> None:
    """Keeps a finished run's row: in ``rows``, as a line appended to ``out`` (so a long
    benchmark stopped half-way keeps what it measured) and on stdout."""
    rows.append(row)
    with out.open("a") as file:
        file.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)
