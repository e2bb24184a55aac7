"""Does how our PPO normalises observations explain a gap to stable-baselines3? An A/B.

Our `GaussianActorCritic` normalises observations inside the policy and folds each rollout
into the running statistics after that rollout's update, so a rollout and its update see the
same statistics (the first rollout sees none). SB3's `VecNormalize` updates the statistics at
every env step and stores the normalised observations. Gymnasium's vector envs also insert a
masked reset step after each episode (``NEXT_STEP`` autoreset), which SB3's do not. Variants
of our core, each with the config's hyperparameters and the benchmark's 100-episode
evaluation (``arm_vs_sb3.evaluate``):

- ``base``: as ``rlhf-gym arm train`` runs.
- ``envnorm``: SB3's scheme: gymnasium's ``NormalizeObservation`` vector wrapper (statistics
  updated every step, clipped to +-10 like ``VecNormalize``) and no normaliser in the policy.
- ``samestep``: ``SAME_STEP`` autoreset, so every env step is a real one, as in SB3.

    .venv/bin/python benchmarks/obs_norm_variants.py --env Reacher-v5 --timesteps 1000000 \\
        --seeds 1 2 3 4 5 6 --variants base envnorm samestep
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import vector as vector_wrappers

from agents.config import load_config  # noqa: E402
from agents.train import limit_cpu_threads, train  # noqa: E402
from rlhf_arm.baselines import evaluate  # noqa: E402
from rlhf_arm.experiment import (  # noqa: E402
    ContinuousConfig,
    build_policy,
    make_optimizer,
    make_vector_env,
)

VARIANTS = ("base", "envnorm", "samestep")
CLIP = 10.0  # VecNormalize's clip_obs, and RunningNormalizer's


def run_variant(config: ContinuousConfig, variant: str, seed: int) -> tuple[dict, float]:
    """Train one variant for one seed; its evaluation and training seconds."""
    limit_cpu_threads(1)
    gym.logger.min_level = 40
    config = replace(config, run=replace(config.run, seed=seed, progress=False))
    torch.manual_seed(seed)
    if variant == "samestep":
        env = gym.make_vec(
            config.env.id,
            num_envs=config.env.num_envs,
            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
            **config.env.kwargs,
        )
    else:
        env = make_vector_env(config.env)
    stats = None
    if variant == "envnorm":
        env = stats = vector_wrappers.NormalizeObservation(env)
        env = vector_wrappers.TransformObservation(env, lambda obs: np.clip(obs, -CLIP, CLIP))
    # envnorm: the wrapper normalises, so the policy must not do it again
    policy_config = replace(config.policy, normalize_observations=variant != "envnorm")
    policy = build_policy(replace(config, policy=policy_config), env)
    start = time.perf_counter()
    train(env, policy, make_optimizer(policy, config.run), config.ppo, config.run)
    seconds = time.perf_counter() - start
    env.close()
    policy.eval()

    def predict(obs: np.ndarray) -> np.ndarray:
        if stats is not None:  # the wrapper's statistics, frozen
            rms = stats.obs_rms
            obs = np.clip((obs - rms.mean) / np.sqrt(rms.var + stats.epsilon), -CLIP, CLIP)
        with torch.no_grad():
            return policy.act(torch.as_tensor(obs, dtype=torch.float32), deterministic=True)[0]

    return evaluate(lambda obs: predict(obs).numpy(), config.env, 100), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/arm/reach.yaml")
    parser.add_argument("--env", default="Reacher-v5", help="replaces the config's env id")
    parser.add_argument("--timesteps", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (processes)")
    args = parser.parse_args()
    config = load_config(ContinuousConfig, args.config)
    kwargs = config.env.kwargs if args.env == config.env.id else {}
    config = replace(
        config,
        env=replace(config.env, id=args.env, kwargs=kwargs),
        run=replace(config.run, total_timesteps=args.timesteps),
    )
    tasks = [(variant, seed) for seed in args.seeds for variant in args.variants]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.jobs, mp_context=context) as pool:
        futures = [pool.submit(run_variant, config, v, s) for v, s in tasks]
        results = {task: future.result() for task, future in zip(tasks, futures, strict=True)}
    print(f"\n{args.env}, {args.timesteps} timesteps per run, {args.jobs} runs at once\n")
    print("| variant | seed | success | mean final dist (m) | mean return | wall-clock (s) |")
    print("|---|---|---|---|---|---|")
    for variant, seed in tasks:
        out, seconds = results[variant, seed]
        print(
            f"| {variant} | {seed} | {out['success']:.2f} | {out['distance']:.3f} | "
            f"{out['return']:.2f} | {seconds:.0f} |"
        )
    print("\n| variant | mean success | mean return |\n|---|---|---|")
    for variant in args.variants:
        runs = [results[variant, seed][0] for seed in args.seeds]
        success = np.mean([r["success"] for r in runs])
        print(f"| {variant} | {success:.3f} | {np.mean([r['return'] for r in runs]):.2f} |")


if __name__ == "__main__":
    main()
