"""Our PPO core against stable-baselines3's PPO, same env, hyperparameters, budget and seeds.

Both run in this process one after the other on one torch and one BLAS thread, 8 sync envs,
64x64 tanh actor and critic (separate), orthogonal init, running observation normalisation
(SB3: ``VecNormalize(norm_reward=False)``), linear learning-rate decay, per-minibatch
advantage normalisation, and the same PPO coefficients. Each trained policy is evaluated
deterministically on the same 100 seeded episodes. Prints a Markdown table.

With ``--concurrent`` the two runs of a seed train at the same time, each in its own process
pinned to its own core (the machine must have two free cores): a shared machine's speed
drifts by tens of percent over minutes, and two runs that take turns would each see a
different machine, while two at once see the same one. Both columns report wall-clock
seconds and the training process's CPU seconds.

    .venv/bin/python benchmarks/arm_vs_sb3.py --timesteps 300000 --seeds 1 2
    .venv/bin/python benchmarks/arm_vs_sb3.py --seeds 1 2 3 --concurrent
    .venv/bin/python benchmarks/arm_vs_sb3.py --envs Reacher-v5 --timesteps 1000000 ppo.vf_coef=1.0
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import gymnasium as gym
import numpy as np
import torch

from agents.config import load_config
from agents.experiment import ContinuousConfig, EnvConfig, make_vector_env, train_from_config
from agents.train import limit_cpu_threads

ENVS = {
    "RLHFGym/ArmReach-v0": {},
    "Reacher-v5": {},
}


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
    from agents.experiment import load_run

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


def run_pinned(name: str, config: ContinuousConfig, seed: int, core: int) -> tuple[dict, float]:
    """One implementation's run on one core (``--concurrent``'s worker)."""
    os.sched_setaffinity(0, {core})
    limit_cpu_threads(1)  # torch's and numpy's BLAS threads, for both implementations
    gym.logger.min_level = 40
    if name == "rlhf-gym":
        return run_ours(config, seed, f"runs/bench-{seed}")
    return run_sb3(config, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/arm/reach.yaml")
    parser.add_argument("--timesteps", type=int, default=None, help="default: the config's")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--envs", nargs="+", default=list(ENVS))
    parser.add_argument(
        "--concurrent", action="store_true", help="both runs of a seed at once, one core each"
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="config overrides, for both runs"
    )
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    if args.concurrent and len(cores) < 2:
        parser.error(f"--concurrent needs two cores, this process may use {len(cores)}")
    limit_cpu_threads(1)
    base = load_config(ContinuousConfig, args.config, args.overrides)
    if args.timesteps:
        base = replace(base, run=replace(base.run, total_timesteps=args.timesteps))
    rows = []
    for env_id in args.envs:
        config = replace(
            base,
            env=replace(
                base.env,
                id=env_id,
                kwargs=base.env.kwargs if env_id.startswith("RLHFGym") else ENVS.get(env_id, {}),
            ),
        )
        for seed in args.seeds:
            names = ("rlhf-gym", "sb3")
            if args.concurrent:
                context = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(2, mp_context=context) as pool:
                    futures = [
                        pool.submit(run_pinned, name, config, seed, core)
                        for name, core in zip(names, cores[:2], strict=True)
                    ]
                    results = [future.result() for future in futures]
            else:
                results = [
                    run_ours(config, seed, f"runs/bench-{seed}"),
                    run_sb3(config, seed),
                ]
            for name, (metrics, seconds) in zip(names, results, strict=True):
                sps = config.run.total_timesteps / seconds
                rows.append((env_id, name, seed, metrics, seconds, sps))
                print(f"{env_id} {name} seed {seed}: {metrics} {seconds:.0f}s", flush=True)
    how = "at the same time, one core each" if args.concurrent else "one after the other"
    print(f"\n{base.run.total_timesteps} timesteps per run, 8 envs, torch threads 1, {how}\n")
    print(
        "| env | impl | seed | success | mean final dist (m) | mean return | wall-clock (s) "
        "| CPU (s) | steps/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for env_id, name, seed, m, seconds, sps in rows:
        print(
            f"| {env_id} | {name} | {seed} | {m['success']:.2f} | {m['distance']:.3f} | "
            f"{m['return']:.2f} | {seconds:.0f} | {m['cpu_seconds']:.0f} | {sps:.0f} |"
        )
    print("\n| env | ours / sb3: wall-clock | CPU time | success | return (means over seeds) |")
    print("|---|---|---|---|---|")
    for env_id in args.envs:
        ours = [r for r in rows if r[0] == env_id and r[1] == "rlhf-gym"]
        sb3 = [r for r in rows if r[0] == env_id and r[1] == "sb3"]

        def mean(runs, key):
            return np.mean([r[3][key] for r in runs])

        wall = np.mean([r[4] for r in ours]) / np.mean([r[4] for r in sb3])
        cpu = mean(ours, "cpu_seconds") / mean(sb3, "cpu_seconds")
        print(
            f"| {env_id} | {wall:.2f} | {cpu:.2f} | {mean(ours, 'success'):.3f} / "
            f"{mean(sb3, 'success'):.3f} | {mean(ours, 'return'):.1f} / {mean(sb3, 'return'):.1f} |"
        )


if __name__ == "__main__":
    gym.logger.min_level = 40
    main()
