"""An exported policy through `arm deploy`'s loop on the sim driver, on a simulated clock.

`DeployLoop` over `SimArmDriver` exactly as `rlhf-gym arm deploy --driver sim` runs them,
but the clock advances only when the loop sleeps, so a minute of control takes seconds and
the CPU's other work does not add latency. Two measures, success at the policy's threshold:
20 targets each from a fresh arm at its rest pose (2 s each, as training episodes start),
and 20 targets one after another on one arm (3 s each, as `arm deploy` runs).

    .venv/bin/python benchmarks/arm_deploy_sim.py --policy runs/so101-export --latency 0.04
    .venv/bin/python benchmarks/arm_deploy_sim.py --policy runs/dr-export --perturb sim_to_sim
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from rlhf_arm.deploy import DeployConfig, DeployLoop, load_policy
from rlhf_arm.drivers import SimArmDriver


class SimulatedClock:
    """Seconds that pass only when the loop sleeps."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def now(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        self.seconds += seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", required=True, help="a folder from arm export")
    parser.add_argument("--perturb", default=None, help="a randomization YAML or shipped name")
    parser.add_argument("--latency", type=float, default=0.04, help="command latency (s)")
    parser.add_argument("--targets", type=int, default=20)
    args = parser.parse_args()
    _, description = load_policy(args.policy, "numpy")
    threshold = description["success_threshold"]
    rng, fresh = np.random.default_rng(0), []
    for i in range(args.targets):
        clock = SimulatedClock()
        driver = SimArmDriver(description["env_kwargs"], args.perturb, args.latency, i, clock.now)
        loop = DeployLoop(args.policy, driver, DeployConfig(seconds=2.0), clock.now, clock.sleep)
        loop.config.target = tuple(loop._env.workspace.sample(rng))
        fresh.append(loop.run()["final_distances_m"][-1])
    clock = SimulatedClock()
    driver = SimArmDriver(description["env_kwargs"], args.perturb, args.latency, 99, clock.now)
    config = DeployConfig(seconds=3.0 * args.targets, target_every=3.0, seed=1)
    chained = DeployLoop(args.policy, driver, config, clock.now, clock.sleep).run()
    print(json.dumps({
        "fresh_success": float(np.mean(np.array(fresh) < threshold)),
        "fresh_median_distance_m": float(np.median(fresh)),
        "chained_success": chained["success_rate"],
        "chained_median_distance_m": float(np.median(chained["final_distances_m"])),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
