"""One control tick of `rlhf-gym arm deploy` on one CPU core: observation to action.

Times, over ``--ticks`` ticks on one pinned core: the policy alone through ONNX Runtime
(``policy.onnx``) and through numpy (``policy.npz``), and the whole tick's computation as
the deploy loop runs it (forward kinematics of the joint readings, the observation, the
policy, the safety clamps). Without ``--policy`` it trains a 256-step run and exports it
(the timing does not depend on the weights). Prints a Markdown table of median and p99.

    .venv/bin/python benchmarks/arm_deploy_tick.py
    .venv/bin/python benchmarks/arm_deploy_tick.py --policy runs/arm-reach-export
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from agents.config import load_config
from agents.train import limit_cpu_threads
from configs import resolve_config
from rlhf_arm.deploy import DeployConfig, DeployLoop
from rlhf_arm.experiment import ContinuousConfig, train_from_config
from rlhf_arm.export import OnnxPolicy, export_policy
from rlhf_arm.numpy_policy import NumpyPolicy


class _StillArm:
    """A driver that never moves (only its joint names matter here)."""

    def __init__(self, joint_names: list[str]) -> None:
        self.joint_names = tuple(joint_names)

    def read_positions(self) -> tuple[np.ndarray, float]:
        return np.zeros(len(self.joint_names)), time.monotonic()

    def send_goal(self, positions: np.ndarray) -> None:
        pass

    def close(self) -> None:
        pass


def timed(function: Callable[[], object], ticks: int) -> tuple[float, float]:
    """(median, p99) of one call, in milliseconds."""
    for _ in range(50):
        function()
    times = np.empty(ticks)
    for i in range(ticks):
        start = time.perf_counter()
        function()
        times[i] = time.perf_counter() - start
    return float(np.median(times) * 1e3), float(np.percentile(times, 99) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default=None, help="an arm export folder")
    parser.add_argument("--ticks", type=int, default=5000)
    parser.add_argument("--core", type=int, default=0, help="the CPU core to pin to")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.core})
    limit_cpu_threads(1)
    policy_dir = args.policy
    if policy_dir is None:
        root = Path(tempfile.mkdtemp())
        config = load_config(ContinuousConfig, resolve_config("reach"), [
            "env.num_envs=2", "run.num_steps=64", "run.total_timesteps=256",
            "run.progress=false", f"run_dir={root / 'run'}",
        ])  # fmt: skip
        train_from_config(config, resume=False)
        export_policy(root / "run", root / "policy")
        policy_dir = root / "policy"
    onnx_policy, numpy_policy = OnnxPolicy(policy_dir), NumpyPolicy(policy_dir)
    names = numpy_policy.description["joint_names"]
    loop = DeployLoop(policy_dir, _StillArm(names), DeployConfig())
    angles, velocity = np.full(len(names), 0.3), np.zeros(len(names))
    target, goal = np.array([0.3, 0.1, 0.2]), np.zeros(len(names))
    observation = loop.observation(angles, velocity, target)

    def tick() -> None:
        action = loop.policy(loop.observation(angles, velocity, target))
        loop.safe_goal(goal + np.asarray(action, np.float64) * 0.1, goal)

    print(f"one core (pinned to {args.core}), {args.ticks} ticks\n")
    print("| what | median (ms) | p99 (ms) |")
    print("|---|---|---|")
    for name, function in (
        ("policy.onnx through ONNX Runtime", lambda: onnx_policy(observation)),
        ("policy.npz through numpy", lambda: numpy_policy(observation)),
        ("whole tick: FK + observation + ONNX + clamps", tick),
    ):
        median, p99 = timed(function, args.ticks)
        print(f"| {name} | {median:.3f} | {p99:.3f} |")


if __name__ == "__main__":
    main()
