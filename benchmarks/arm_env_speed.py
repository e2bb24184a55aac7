"""How much ArmReach costs on top of its raw MuJoCo physics; prints a Markdown table.

The issue's goal: an env step costs at most 1.5x the raw physics it runs,
`mujoco.mj_step(model, data, nstep=frame_skip)` on the same model (`env.unwrapped.model`).

To compare like with like, the raw loops replay the actuator controls the env produced (an
untimed, identically seeded pass records them), so both sides integrate the same trajectory:
the raw loop is `data.ctrl[:] = recorded; mj_step(model, data, nstep=frame_skip)`.

- single env: `env.unwrapped.step` and `gymnasium.make(...).step` (TimeLimit, OrderEnforcing,
  PassiveEnvChecker wrappers; the time limit raised past the run so no resets are timed);
- vector env: `gymnasium.make_vec(...)` with N envs, the native `ArmReachVectorEnv` (what
  training uses) and `vectorization_mode="sync"` (a `SyncVectorEnv` of wrapped single envs),
  each with the registered 100-step limit, so autoresets are timed, against a loop over N
  MjData (restored to their start state every 100 steps).

Each time is the best of `--repeats` runs (the machine may be shared).

Usage:
    python benchmarks/arm_env_speed.py [--steps 4000] [--num-envs 8] [--seed 0]
"""

from __future__ import annotations

import argparse
import platform

import gymnasium
import mujoco
import numpy as np

import envs
from rlhf_arm.baselines import best_time

EPISODE_STEPS = envs.ARM_REACH_MAX_EPISODE_STEPS


def single_env(steps: int, seed: int, repeats: int) -> list[tuple[str, float, float]]:
    """Rows (case, env seconds, raw seconds) for one env, unwrapped and wrapped."""
    env = gymnasium.make(envs.ARM_REACH_ID, max_episode_steps=steps + 1)
    unwrapped = env.unwrapped
    model, frame_skip = unwrapped.model, unwrapped.frame_skip
    actions = np.random.default_rng(seed).uniform(-1, 1, size=(steps, *env.action_space.shape))
    actions = actions.astype(np.float32)

    env.reset(seed=seed)
    start = mujoco.MjData(model)
    mujoco.mj_copyData(start, model, unwrapped.data)
    controls = np.empty((steps, model.nu))
    for t, action in enumerate(actions):  # untimed pass: record the controls
        env.step(action)
        controls[t] = unwrapped.data.ctrl

    def run_unwrapped() -> None:
        env.reset(seed=seed)
        for action in actions:
            unwrapped.step(action)

    def run_wrapped() -> None:
        env.reset(seed=seed)
        for action in actions:
            env.step(action)

    def run_raw() -> None:
        data = mujoco.MjData(model)
        mujoco.mj_copyData(data, model, start)
        for control in controls:
            data.ctrl[:] = control
            mujoco.mj_step(model, data, nstep=frame_skip)

    raw = best_time(run_raw, repeats)
    rows = [
        ("single: `env.unwrapped.step`", best_time(run_unwrapped, repeats), raw),
        ("single: `gymnasium.make(...).step`", best_time(run_wrapped, repeats), raw),
    ]
    env.close()
    return rows


def vector_env(
    steps: int, num_envs: int, seed: int, repeats: int, mode: str | None
) -> tuple[str, float, float]:
    """Row (case, env seconds, raw seconds) for a vector env of `num_envs` (`mode` of make_vec)."""
    vector = gymnasium.make_vec(envs.ARM_REACH_ID, num_envs=num_envs, vectorization_mode=mode)
    subenvs = [sub.unwrapped for sub in vector.envs]
    model, frame_skip = subenvs[0].model, subenvs[0].frame_skip
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1, 1, size=(steps, *vector.action_space.shape)).astype(np.float32)

    vector.reset(seed=seed)
    starts = []
    for sub in subenvs:
        starts.append(mujoco.MjData(model))
        mujoco.mj_copyData(starts[-1], model, sub.data)
    controls = np.empty((steps, num_envs, model.nu))
    for t, action in enumerate(actions):  # untimed pass: record the controls
        vector.step(action)
        for i, sub in enumerate(subenvs):
            controls[t, i] = sub.data.ctrl

    def run_vector() -> None:
        vector.reset(seed=seed)
        for action in actions:
            vector.step(action)

    def run_raw() -> None:
        datas = [mujoco.MjData(model) for _ in range(num_envs)]
        for t, step_controls in enumerate(controls):
            for data, start, control in zip(datas, starts, step_controls, strict=True):
                if t % EPISODE_STEPS == 0:
                    mujoco.mj_copyData(data, model, start)
                data.ctrl[:] = control
                mujoco.mj_step(model, data, nstep=frame_skip)

    how = f"vectorization_mode='{mode}'" if mode else f"native {type(vector).__name__}"
    row = (
        f"vector: `make_vec(..., num_envs={num_envs})`, {how}: `step`",
        best_time(run_vector, repeats),
        best_time(run_raw, repeats),
    )
    vector.close()
    return row


def main() -> None:
    """Parses arguments, runs the measurements, prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--steps", type=int, default=4000, help="env steps per measurement")
    parser.add_argument("--num-envs", type=int, default=8, help="envs in the vector env")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()

    rows = single_env(args.steps, args.seed, args.repeats)
    vector_steps = max(1, args.steps // args.num_envs)
    for mode in (None, "sync"):
        rows.append(vector_env(vector_steps, args.num_envs, args.seed, args.repeats, mode))
    counts = [args.steps, args.steps] + [vector_steps * args.num_envs] * 2

    env = gymnasium.make(envs.ARM_REACH_ID).unwrapped
    print(
        f"ArmReach-v0 speed: frame_skip={env.frame_skip}, timestep={env.model.opt.timestep}, "
        f"mujoco {mujoco.__version__}, gymnasium {gymnasium.__version__}, "
        f"numpy {np.__version__}, Python {platform.python_version()}, {platform.machine()}; "
        f"{args.steps} env steps per case, best of {args.repeats}\n"
    )
    print("| Case | env steps/s | raw physics steps/s | env time / raw time |")
    print("|---|---:|---:|---:|")
    for (case, env_time, raw_time), count in zip(rows, counts, strict=True):
        print(f"| {case} | {count / env_time:,.0f} | {count / raw_time:,.0f} | "
              f"{env_time / raw_time:.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
