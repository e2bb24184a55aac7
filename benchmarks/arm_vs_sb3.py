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
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import gymnasium as gym
import numpy as np

from agents.config import load_config
from agents.train import limit_cpu_threads
from rlhf_arm.baselines import run_ours, run_sb3
from rlhf_arm.experiment import ContinuousConfig

ENVS = {
    "RLHFGym/ArmReach-v0": {},
    "Reacher-v5": {},
}


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
