"""PPO on a reward learned from trajectory preferences, against PPO on the true reward and
against the `imitation` library's preference comparisons, on ArmReach, per label budget.

For each seed: one run of ``rlhf-gym``'s preference loop per label budget
(``rlhf_arm.prefs.train_prefs``), one PPO run on the env's own reward with the same PPO config
and steps (``benchmarks/arm_vs_sb3.run_ours``), and one run of
``imitation.algorithms.preference_comparisons`` per budget, with stable-baselines3's PPO on
the same PPO coefficients, the same segment length, number of query rounds, initial label
share, reward-model epochs and learning rate, and the same deterministic oracle (imitation's
``SyntheticGatherer(temperature=0)``: the higher true return wins, ties are "equal").
Every policy is scored by the same 100 deterministic seeded episodes on the env's own reward
(``benchmarks/arm_vs_sb3.evaluate``). Prints a Markdown table.

`imitation` 1.0.1 pins gymnasium 0.29 and stable-baselines3 2.2, whose MujocoEnv this env does
not support; its code runs on the project's gymnasium 1.x and stable-baselines3 2.x, so it
is installed without its pins into a folder of its own and run in a subprocess with that
folder on ``PYTHONPATH``, leaving the project's venv untouched::

    .venv/bin/pip install --no-deps --target /tmp/imitation-pkgs imitation==1.0.1 scipy
    .venv/bin/python benchmarks/arm_prefs.py --budgets 100 300 1000 --seeds 1 \\
        --imitation-path /tmp/imitation-pkgs

Without ``--imitation-path`` (or if the import fails) the imitation column says why.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from agents.config import load_config  # noqa: E402
from rlhf_arm.baselines import evaluate, run_ours, sb3_ppo, sb3_venv  # noqa: E402
from rlhf_arm.prefs import PrefsConfig, train_prefs  # noqa: E402

REPO = Path(__file__).parents[1]


def policy_predict(policy):
    """``raw observations [N, D] -> deterministic actions [N, A]`` of our policy."""

    def predict(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = policy.act(torch.as_tensor(obs, dtype=torch.float32), deterministic=True)
        return out.actions.numpy()

    return predict


def run_prefs(config: PrefsConfig, budget: int, seed: int, run_dir: str) -> tuple[dict, float]:
    config = replace(
        config,
        run=replace(config.run, seed=seed, progress=False),
        prefs=replace(config.prefs, label_budget=budget),
        run_dir=run_dir,
    )
    start = time.perf_counter()
    loop_result = train_prefs(config, resume=False)  # timed: always the whole run
    seconds = time.perf_counter() - start
    from rlhf_arm.experiment import load_run

    _, policy = load_run(run_dir)
    metrics = evaluate(policy_predict(policy), config.env, 100)
    metrics["rm_accuracy_heldout"] = loop_result.rounds[-1].get("prefs/rm_accuracy_heldout")
    return metrics, seconds


def run_imitation(
    config_path: str, overrides: list[str], budget: int, seed: int, path: str | None
) -> dict:
    """Runs :func:`imitation_worker` in a subprocess with ``path`` on PYTHONPATH."""
    if path is None:
        return {"error": "not run: pass --imitation-path (see the module docstring)"}
    payload = {"config": config_path, "overrides": overrides, "budget": budget, "seed": seed}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([path, str(REPO)])}
    process = subprocess.run(
        [sys.executable, __file__, "--imitation-worker", json.dumps(payload)],
        env=env,
        capture_output=True,
        text=True,
    )
    lines = process.stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        return {"error": (process.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def imitation_worker(payload: dict) -> dict:
    """imitation's preference comparisons on the configured env; prints its metrics as JSON."""
    from imitation.algorithms import preference_comparisons as pc
    from imitation.rewards.reward_nets import BasicRewardNet, NormalizedRewardNet
    from imitation.util.networks import RunningNorm

    config = load_config(PrefsConfig, payload["config"], payload["overrides"])
    seed, budget = payload["seed"], payload["budget"]
    run, prefs, rm = config.run, config.prefs, config.reward_model
    torch.set_num_threads(run.torch_threads)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    venv = sb3_venv(config.continuous(), seed)
    space = venv.observation_space
    indices = list(
        range(space.shape[0]) if rm.observation_indices is None else rm.observation_indices
    )

    class SelectedRewardNet(BasicRewardNet):
        """BasicRewardNet over the observation entries ours reads (reward_model.
        observation_indices): the same inputs for both, whatever the config picks."""

        def __init__(self, **kwargs) -> None:
            selected = gym.spaces.Box(space.low[indices], space.high[indices], dtype=space.dtype)
            super().__init__(selected, venv.action_space, **kwargs)
            self.observation_space = space  # preprocess() sees whole observations

        def forward(self, state, action, next_state, done):
            return super().forward(state[:, indices], action, next_state[:, indices], done)

    # Like ours, the reward model reads the observation after the step and the action.
    reward_net = SelectedRewardNet(
        use_state=False, use_action=True, use_next_state=True, hid_sizes=tuple(rm.hidden),
        normalize_input_layer=RunningNorm,
    )  # fmt: skip
    # a constant learning rate, as this benchmark's imitation runs always had
    agent = sb3_ppo(config.continuous(), venv, seed, anneal_lr=False)
    generator = pc.AgentTrainer(agent, NormalizedRewardNet(reward_net, RunningNorm), venv, rng=rng)
    trainer = pc.BasicRewardTrainer(
        pc.PreferenceModel(reward_net), pc.CrossEntropyRewardLoss(), rng=rng,
        batch_size=rm.batch_size, epochs=rm.epochs, lr=rm.learning_rate,
    )  # fmt: skip
    comparisons = pc.PreferenceComparisons(
        generator, reward_net, num_iterations=max(1, prefs.rounds - 1),
        fragmenter=pc.RandomFragmenter(warning_threshold=0, rng=rng),
        preference_gatherer=pc.SyntheticGatherer(temperature=0, rng=rng),
        reward_trainer=trainer, fragment_length=prefs.segment_length,
        initial_comparison_frac=prefs.initial_label_fraction, initial_epoch_multiplier=1.0,
        query_schedule="constant" if prefs.label_schedule == "constant" else "hyperbolic",
    )  # fmt: skip
    # imitation trains the agent after each of its num_iterations + 1 query rounds
    rounds = max(1, prefs.rounds - 1)
    comparisons.train(run.total_timesteps * rounds // (rounds + 1), budget)
    seconds = time.perf_counter() - start
    venv.training = False

    def predict(obs: np.ndarray) -> np.ndarray:
        return agent.predict(venv.normalize_obs(obs), deterministic=True)[0]

    return {**evaluate(predict, config.env, 100), "seconds": seconds}


def run_task(task: tuple[str, int, int], args: argparse.Namespace) -> tuple[dict, float]:
    """One run: ``(kind, budget, seed)`` with kind "true", "prefs" or "imitation"."""
    kind, budget, seed = task
    torch.set_num_threads(1)
    config = load_config(PrefsConfig, args.config, args.overrides)
    if kind == "true":
        return run_ours(config.continuous(), seed, f"{args.runs}/true-{seed}")
    if kind == "prefs":
        return run_prefs(config, budget, seed, f"{args.runs}/{budget}-{seed}")
    theirs = run_imitation(args.config, args.overrides, budget, seed, args.imitation_path)
    return theirs, theirs.get("seconds", float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "arm" / "prefs.yaml"))
    parser.add_argument("--budgets", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--imitation-path", default=None, help="folder with imitation 1.0.1")
    parser.add_argument("--skip", nargs="*", default=[], choices=["true", "imitation", "prefs"])
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (processes)")
    parser.add_argument("--runs", default="runs/bench-prefs", help="run folders go here")
    parser.add_argument("--imitation-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    args = parser.parse_args()
    if args.imitation_worker:
        print(json.dumps(imitation_worker(json.loads(args.imitation_worker))))
        return
    config = load_config(PrefsConfig, args.config, args.overrides)
    # the longest runs first, so that parallel jobs finish together
    kinds = [kind for kind in ("prefs", "imitation") if kind not in args.skip]
    tasks = [
        (kind, budget, seed)
        for seed in args.seeds
        for budget in sorted(args.budgets, reverse=True)
        for kind in kinds
    ]
    tasks += [("true", 0, seed) for seed in args.seeds if "true" not in args.skip]
    results: dict[tuple[str, int, int], tuple[dict, float]] = {}
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_task, task, args): task for task in tasks}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            print(f"{futures[future]}: {results[futures[future]]}", flush=True)
    print_table(config, args, results)


def print_table(config: PrefsConfig, args: argparse.Namespace, results: dict) -> None:
    missing = {"success": float("nan"), "error": "skipped"}, float("nan")
    print(
        f"\n{config.run.total_timesteps} PPO steps per run, {config.prefs.rounds} rounds, "
        f"segments of {config.prefs.segment_length} steps, selection "
        f"{config.prefs.selection}, {args.jobs} runs at once; success over 100 deterministic "
        "episodes (final distance < 0.05 m)\n"
    )
    print(
        "| labels | seed | success, learned reward | success, true reward (no labels) "
        "| success, imitation | RM held-out acc | wall-clock learned / true / imitation (s) |"
    )
    print("|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        true_metrics, true_seconds = results.get(("true", 0, seed), missing)
        for budget in sorted(args.budgets):
            ours, seconds = results.get(("prefs", budget, seed), missing)
            theirs, their_seconds = results.get(("imitation", budget, seed), missing)
            imitation = f"{theirs['success']:.2f}" if "success" in theirs else theirs["error"]
            accuracy = ours.get("rm_accuracy_heldout")
            accuracy = "-" if accuracy is None else f"{accuracy:.2f}"
            print(
                f"| {budget} | {seed} | {ours['success']:.2f} | {true_metrics['success']:.2f} "
                f"| {imitation} | {accuracy} | {seconds:.0f} / {true_seconds:.0f} / "
                f"{their_seconds:.0f} |"
            )


if __name__ == "__main__":
    gym.logger.min_level = 40
    main()
