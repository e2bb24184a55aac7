"""Where one env step of arm PPO spends its time, piece by piece (one core, one thread).

Times, in microseconds per call, the parts of a training step of ``configs/arm/reach.yaml``:
the vector env's ``step`` (8 arms, the native ``ArmReachVectorEnv`` training uses) against a
plain loop over the unwrapped envs, against raw ``mujoco.mj_step`` (the arms at rest, and
moving to random servo targets) and against ``mujoco.rollout`` stepping the 8 arms in one C
call (reading their states in and writing them back, as the env would), the policy's ``act``
(without autograd, so its numpy path, as rollouts run it), a whole ``collect_rollout`` (the
env, the policy and the rollout's bookkeeping together), and the pieces of one PPO minibatch
update (256 samples): forward, loss and backward through autograd, ``clip_grad_norm_`` and
``optimizer.step()``, against what training runs instead: the closed-form loss and gradient
(``GaussianActorCritic.ppo_loss_and_grad``), the flat buffer's numpy clipping and the fused
Adam kernel called directly (``agents.flat.step_optimizer``), all on the policy's one flat
parameter buffer, as training builds it; and torch's tanh kernel against the numpy one the
policy's hidden layers use.
Then it spreads them over env steps as training does (one ``act`` per 8 env steps; 80
minibatch updates per 2,048 env steps), and runs a short real training to show the rollout
and update times as they add up there (``time/rollout_s``, ``time/update_s``). Prints
Markdown tables.

    .venv/bin/python benchmarks/arm_step_cost.py
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable
from dataclasses import replace

import gymnasium as gym
import mujoco
import numpy as np
import torch
from mujoco import rollout as mujoco_rollout

import envs  # noqa: E402, F401 - registers RLHFGym/ArmReach-v0
from agents.collect import collect_rollout, start_collection  # noqa: E402
from agents.config import load_config  # noqa: E402
from agents.flat import step_optimizer  # noqa: E402
from agents.gaussian import tanh as gaussian_tanh  # noqa: E402
from agents.losses import ppo_losses  # noqa: E402
from agents.train import limit_cpu_threads  # noqa: E402
from rlhf_arm.baselines import best_time  # noqa: E402
from rlhf_arm.experiment import (  # noqa: E402
    ContinuousConfig,
    build_policy,
    make_optimizer,
    make_vector_env,
    train_from_config,
)


def per_call_us(fn: Callable[[], object], calls: int, repeats: int = 3) -> float:
    """Best of ``repeats`` mean times of ``calls`` calls (after a warm-up), in microseconds."""
    for _ in range(min(50, calls)):
        fn()

    def run() -> None:
        for _ in range(calls):
            fn()

    return best_time(run, repeats) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/arm/reach.yaml")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--train-iterations", type=int, default=40)
    parser.add_argument("--run-dir", default="runs/bench-step-cost")
    args = parser.parse_args()
    limit_cpu_threads(1)  # one torch and one BLAS thread, as training runs
    config = load_config(ContinuousConfig, args.config)
    env = make_vector_env(config.env)
    n = env.num_envs
    policy = build_policy(config, env)
    optimizer = make_optimizer(policy, config.run)  # as training builds it: one flat buffer
    obs, _ = env.reset(seed=0)
    actions = np.zeros((n, *env.single_action_space.shape), np.float32)
    bases = [sub.unwrapped for sub in env.envs]
    obs_t = torch.as_tensor(obs, dtype=torch.float32)

    def vector_step():
        env.step(actions)

    def plain_loop():
        out = [base.step(actions[i]) for i, base in enumerate(bases)]
        np.stack([o[0] for o in out])

    def physics():
        for base in bases:
            mujoco.mj_step(base.model, base.data, nstep=base.frame_skip)

    # a moving arm's step costs more than a resting one's: fresh random servo targets
    model, frame_skip = bases[0].model, bases[0].frame_skip
    low, high = model.actuator_ctrlrange.T
    targets = np.random.default_rng(0).uniform(low, high, size=(16, n, model.nu))
    turn = itertools.count()

    def physics_moving():
        k = next(turn) // 20 % len(targets)  # a new target every 20 steps, as a policy moves
        for i, base in enumerate(bases):
            base.data.ctrl[:] = targets[k, i]
            mujoco.mj_step(base.model, base.data, nstep=base.frame_skip)

    # mujoco.rollout: the same 8 arms x frame_skip in one C call, controls fixed in advance;
    # in place of the env's loop it must read the arms' states in and write them back
    full = mujoco.mjtState.mjSTATE_FULLPHYSICS
    states = np.zeros((n, mujoco.mj_stateSize(model, full)))
    controls = np.repeat(targets[0][:, None, :], frame_skip, axis=1)  # (n, frame_skip, nu)
    state_out = np.zeros((n, frame_skip, states.shape[1]))
    sensor_out = np.zeros((n, frame_skip, model.nsensordata))
    runner = mujoco_rollout.Rollout(nthread=0)
    models = [base.model for base in bases]

    def physics_rollout():
        for i, base in enumerate(bases):
            mujoco.mj_getState(base.model, base.data, states[i], full)
        runner.rollout(
            models, [bases[0].data], states, controls, nstep=frame_skip, state=state_out,
            sensordata=sensor_out,
        )  # fmt: skip
        for i, base in enumerate(bases):
            mujoco.mj_setState(base.model, base.data, state_out[i, -1], full)

    @torch.no_grad()
    def act():  # numpy's forward pass, as rollouts run it
        policy.act(obs_t)

    def act_torch():  # with autograd on: torch's ops
        policy.act(obs_t)

    state = start_collection(env, 0)

    def collect():  # one whole rollout, as training runs it
        nonlocal state
        _, state, _ = collect_rollout(env, policy, config.run.num_steps, state)

    rollout_us = per_call_us(collect, max(1, args.calls // config.run.num_steps))
    rollout = {
        f"vector env step ({n} envs, {type(env).__name__})": per_call_us(vector_step, args.calls),
        f"plain loop over the {n} unwrapped envs": per_call_us(plain_loop, args.calls),
        f"raw `mj_step` x frame_skip, {n} envs": per_call_us(physics, args.calls),
        f"raw `mj_step` x frame_skip, {n} envs, arms moving": per_call_us(
            physics_moving, args.calls
        ),
        f"`mujoco.rollout` of {n} envs x frame_skip, states in and out": per_call_us(
            physics_rollout, args.calls
        ),
        f"policy `act` on {n} observations, torch's ops (autograd on)": per_call_us(
            act_torch, args.calls
        ),
        f"policy `act` on {n} observations, numpy (no autograd, as rollouts run)": per_call_us(
            act, args.calls
        ),
        f"`collect_rollout`, per vector step ({config.run.num_steps} steps)": rollout_us
        / config.run.num_steps,
    }

    batch = n * config.run.num_steps
    size = batch // config.ppo.num_minibatches
    rng = torch.Generator().manual_seed(0)
    mb = {
        "obs": torch.randn(size, policy.obs_dim, generator=rng),
        "actions": torch.randn(size, policy.action_dim, generator=rng),
        "logprobs": torch.randn(size, generator=rng),
        "advantages": torch.randn(size, generator=rng),
        "values": torch.randn(size, generator=rng),
        "returns": torch.randn(size, generator=rng),
        "mask": torch.ones(size),
    }
    params = [p for group in optimizer.param_groups for p in group["params"]]
    ppo = config.ppo

    def loss():
        new = policy.evaluate(mb["obs"], mb["actions"])
        terms = ppo_losses(
            new.logprobs, mb["logprobs"], mb["advantages"], new.values, mb["values"],
            mb["returns"], new.entropy, mb["mask"], ppo.clip_coef, ppo.value_clip_coef,
        )  # fmt: skip
        return terms.total(ppo.vf_coef, ppo.ent_coef)

    def forward():
        with torch.no_grad():
            policy.evaluate(mb["obs"], mb["actions"])

    def backward():
        for param in params:
            param.zero_grad()  # the flat gradient buffer, in place
        loss().backward()

    def clip():
        torch.nn.utils.clip_grad_norm_(params, ppo.max_grad_norm)

    backward()  # grads exist for clip and step

    def adam():
        optimizer.step()

    # what training runs instead of forward, losses and backward (agents/gaussian_grad.py)
    closed_mb = {
        "observations": mb["obs"][:, None],
        "actions": mb["actions"][:, None],
        "logprobs": mb["logprobs"][:, None],
        "returns": mb["returns"][:, None],
        "mask": None,
    }

    def closed_form():
        policy.ppo_loss_and_grad(
            closed_mb, mb["advantages"][:, None], ppo.clip_coef, ppo.vf_coef, ppo.ent_coef,
            ppo.value_clip_coef,
        )  # fmt: skip

    forward_us = per_call_us(forward, args.calls)
    loss_us = per_call_us(lambda: loss().detach(), args.calls) - forward_us
    backward_us = per_call_us(backward, args.calls) - forward_us - loss_us
    autograd = {
        f"autograd: forward (actor and critic, {size} samples)": forward_us,
        "autograd: losses": loss_us,
        "autograd: backward": backward_us,
    }
    closed = {"closed form: losses and gradient (`ppo_loss_and_grad`)": per_call_us(
        closed_form, args.calls
    )}  # fmt: skip
    torch_step = {
        "gradient clipping (`clip_grad_norm_`)": per_call_us(clip, args.calls),
        "fused Adam step (`optimizer.step()`)": per_call_us(adam, args.calls),
    }
    flat = params[0]  # what training runs instead: numpy's clip, the kernel called directly
    flat_step = {
        "gradient clipping, flat buffer in numpy": per_call_us(
            lambda: flat.clip_grad_norm_(ppo.max_grad_norm), args.calls
        ),
        "fused Adam kernel called directly (`step_optimizer`)": per_call_us(
            lambda: step_optimizer(optimizer), args.calls
        ),
    }

    # the hidden activation: torch's CPU tanh kernel against the numpy one the policy uses
    hidden = torch.randn(size, max(policy.hidden, default=64), generator=rng)
    activation = {
        "torch.tanh": per_call_us(lambda: torch.tanh(hidden), args.calls),
        "agents.gaussian.tanh (numpy)": per_call_us(lambda: gaussian_tanh(hidden), args.calls),
    }

    # a short real training run: the same pieces as they add up inside agents.train.train
    iterations = max(2, args.train_iterations)
    short = replace(
        config,
        run=replace(config.run, total_timesteps=iterations * batch, progress=False),
        run_dir=args.run_dir,
    )
    start = time.perf_counter()
    history = train_from_config(short, resume=False).history[1:]  # the first warms up
    seconds = time.perf_counter() - start
    per_step = {
        key: 1e6 * float(np.mean([row[key] for row in history])) / batch
        for key in ("time/rollout_s", "time/update_s")
    }
    per_step["whole iteration (1 / time/sps)"] = 1e6 / float(
        np.mean([row["time/sps"] for row in history])
    )

    print(f"\n{config.env.id}, {n} envs, minibatch {size}, 1 torch and 1 BLAS thread\n")
    print("| rollout piece | us per call | us per env step |\n|---|---:|---:|")
    for name, us in rollout.items():
        print(f"| {name} | {us:.0f} | {us / n:.1f} |")
    minibatches = ppo.update_epochs * ppo.num_minibatches
    print(
        f"\n| update piece ({minibatches} minibatches per {batch} env steps) | us per "
        "minibatch | us per env step |\n|---|---:|---:|"
    )
    for name, us in {**autograd, **torch_step, **closed, **flat_step}.items():
        print(f"| {name} | {us:.0f} | {us * minibatches / batch:.1f} |")
    for name, pieces in (
        ("autograd and torch's optimiser step", {**autograd, **torch_step}),
        ("closed form, as training runs", {**closed, **flat_step}),
    ):
        total = sum(pieces.values())
        print(f"| all, {name} | {total:.0f} | {total * minibatches / batch:.1f} |")
    print(f"\n| tanh of a {tuple(hidden.shape)} activation | us per call |\n|---|---:|")
    for name, us in activation.items():
        print(f"| {name} | {us:.1f} |")
    print(
        f"\n| inside training ({iterations} iterations, {seconds:.0f} s with set-up) | us per env "
        "step |\n|---|---:|"
    )
    for name, us in per_step.items():
        print(f"| {name} | {us:.1f} |")


if __name__ == "__main__":
    gym.logger.min_level = 40
    main()
