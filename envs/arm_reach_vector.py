"""ArmReachVectorEnv: N ArmReach arms stepped in one loop, everything else batched in numpy.

`gymnasium.make_vec("RLHFGym/ArmReach-v0", num_envs=N)` builds this class (the registration's
`vector_entry_point`). It gives the same observations, rewards, truncations and info as
`SyncVectorEnv` over `gymnasium.make("RLHFGym/ArmReach-v0")` copies with the same seed, bit
for bit (tests/envs/test_arm_reach_vector.py), for less time: the per-arm work is the MuJoCo
step and three array copies, while the servo targets, the action checks, the observation
blocks, the reward terms and the info arrays are computed once for all N arms. A
`SyncVectorEnv` calls each arm's `step` through three wrappers and merges N info dicts key by
key, which costs about a third of the physics again (`benchmarks/arm_env_speed.py`).

The arms are `ArmReachEnv` instances (`envs`), so a model, reward weights, `reward_fn` and
every other constructor argument mean the same as for one env; their servo targets and
observation buffers are rows of this env's `(N, n)` and `(N, 3n + 9)` arrays.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs._arm_checks import ACTION_TOLERANCE, raise_bad_action
from envs._arm_observation import ObservationBuffer
from envs.arm_reach import ArmReachEnv

# info keys present for every arm at every step (a reset reports them too)
_ALWAYS = ("distance", "is_success")


class ArmReachVectorEnv(VectorEnv):
    """`num_envs` ArmReach arms with `NEXT_STEP` autoreset and a per-episode step limit.

    Args:
        num_envs: N, the number of arms.
        max_episode_steps: truncate each episode after this many steps (the registration's
            100 for `RLHFGym/ArmReach-v0`); None never truncates.
        **kwargs: `ArmReachEnv` constructor arguments, the same for every arm.

    Autoreset follows gymnasium's `NEXT_STEP` mode: the step that truncates an episode
    returns its final observation, and the next `step` resets that arm, ignoring its action
    (reward 0, info holding only `distance` and `is_success` of the new episode's start).
    `reset(seed=s)` seeds arm i with `s + i`, as `SyncVectorEnv` does.
    """

    metadata: dict[str, Any] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": ArmReachEnv.metadata["render_modes"],
    }

    def __init__(
        self, num_envs: int = 1, max_episode_steps: int | None = None, **kwargs: Any
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)):
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        if num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        if max_episode_steps is not None and (
            isinstance(max_episode_steps, bool) or int(max_episode_steps) != max_episode_steps
            or max_episode_steps < 1
        ):  # fmt: skip
            raise ValueError(
                f"max_episode_steps must be a positive int or None, got {max_episode_steps!r}"
            )
        self.envs = [ArmReachEnv(**kwargs) for _ in range(num_envs)]
        first = self.envs[0]
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps
        self.render_mode = first.render_mode
        self.metadata = {**self.metadata, "render_fps": first.metadata["render_fps"]}
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(first.observation_space, num_envs)
        self.action_space = batch_space(first.action_space, num_envs)

        n = len(first.arm.joint_names)
        self._servo_targets = np.zeros((num_envs, n))
        self._commands = np.zeros((num_envs, n))
        self._observations = np.zeros((num_envs, 3 * n + 9))
        for i, env in enumerate(self.envs):  # their state becomes rows of these arrays
            env._bind_buffers(n, self._servo_targets[i], self._observations[i], self._commands[i])
        # randomised physics (latency, readings, jitter) runs each arm's own step
        self._each = first._randomizer is not None
        self._obs = ObservationBuffer(n, self._observations)
        self._angles, self._qvel = np.zeros((num_envs, n)), np.zeros((num_envs, n))
        self._ee = np.zeros((num_envs, 3))
        self._elapsed = np.zeros(num_envs, np.int64)
        self._autoreset = np.zeros(num_envs, bool)
        self._needs_reset = True
        self._bound = 1.0 + ACTION_TOLERANCE

    # -- Gymnasium VectorEnv API -------------------------------------------------------------

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Resets every arm; an int `seed` seeds arm i with `seed + i`, a list one per arm."""
        if seed is None or isinstance(seed, (int, np.integer)):
            seeds = [None if seed is None else int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"reset got {len(seeds)} seeds for {self.num_envs} envs")
        infos = [env.reset(seed=seeds[i], options=options)[1] for i, env in enumerate(self.envs)]
        for i, env in enumerate(self.envs):
            self._read_arm(i, env)
        self._elapsed[:] = 0
        self._autoreset[:] = False
        self._needs_reset = False
        if self._each:  # the rows hold each arm's readings; the distances are the true ones
            distance = np.array([info["distance"] for info in infos])
            is_success = np.array([info["is_success"] for info in infos])
        else:
            distance, is_success = self._distance_and_success()
        info = {"distance": distance, "is_success": is_success}
        for key in _ALWAYS:
            info[f"_{key}"] = np.ones(self.num_envs, bool)
        return self._observations.copy(), info

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One step of every arm (`actions` of shape `(N, n)` in [-1, 1]); see the class doc."""
        if self._needs_reset:
            raise ResetNeeded("call reset() before step()")
        try:
            actions = np.asarray(actions, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"actions must be numeric, got {actions!r}") from error
        if actions.shape != self.action_space.shape:
            raise ValueError(
                f"actions must have shape {self.action_space.shape}, got {actions.shape}"
            )
        if not np.abs(actions).max() <= self._bound:  # NaN compares False too
            raise_bad_action(actions)
        if self._each:
            return self._step_each(actions)
        first = self.envs[0]
        if first._position_mode:
            targets = first._move_servo_targets(actions, self._servo_targets)
            ctrl = first._servo_command(targets, self._commands)
        else:
            ctrl = actions
        resetting = self._autoreset
        reset_any = bool(resetting.any())
        step, kinematics = mujoco.mj_step, mujoco.mj_kinematics
        for i, env in enumerate(self.envs):
            if reset_any and resetting[i]:
                env.reset()
            else:
                env._ctrl[env._actuator_index] = ctrl[i]
                step(env.model, env.data, nstep=env.frame_skip)
                kinematics(env.model, env.data)
            self._read_arm(i, env)

        distance, is_success = self._distance_and_success()
        rewards, info = first._reward_terms(distance, (actions * actions).sum(1))
        if first._reward_fn is not None:
            rewards = self._custom_rewards(actions, info)
        stepping = ~resetting
        if reset_any:  # a reset arm reports no reward terms (SyncVectorEnv: absent, 0 there)
            rewards = np.where(stepping, rewards, 0.0)
            for key in [key for key in info if key not in _ALWAYS]:
                if stepping.any():
                    info[key] = np.where(stepping, info[key], np.zeros((), info[key].dtype))
                else:
                    del info[key]
        for key in list(info):
            info[f"_{key}"] = np.ones(self.num_envs, bool) if key in _ALWAYS else stepping

        self._elapsed = np.where(stepping, self._elapsed + 1, 0)
        if self.max_episode_steps is None:
            truncated = np.zeros(self.num_envs, bool)
        else:
            truncated = self._elapsed >= self.max_episode_steps
        self._autoreset = truncated
        return self._observations.copy(), rewards, np.zeros(self.num_envs, bool), truncated, info

    def _step_each(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """`step` through each arm's own `step`, for what is per arm (randomised physics)."""
        resetting = self._autoreset
        infos: list[dict[str, Any]] = []
        rewards = np.zeros(self.num_envs)
        for i, env in enumerate(self.envs):
            if resetting[i]:
                _, info = env.reset()
                info = {key: info[key] for key in _ALWAYS}
            else:
                _, rewards[i], _, _, info = env.step(actions[i])
            infos.append(info)
        stepping = ~resetting
        keys = [key for key in infos[int(np.argmax(stepping))] if key != "randomization"]
        info_out: dict[str, Any] = {}
        for key in keys:
            present = np.array([key in info for info in infos])
            values = [info.get(key, 0) for info in infos]
            info_out[key] = np.array(values)
            info_out[f"_{key}"] = present
        self._elapsed = np.where(stepping, self._elapsed + 1, 0)
        truncated = np.zeros(self.num_envs, bool)
        if self.max_episode_steps is not None:
            truncated = self._elapsed >= self.max_episode_steps
        self._autoreset = truncated
        return (
            self._observations.copy(),
            rewards,
            np.zeros(self.num_envs, bool),
            truncated,
            info_out,
        )

    def render(self) -> tuple[Any, ...] | None:
        """Each arm's frame (`render_mode` as for `ArmReachEnv`), or None without a mode."""
        if self.render_mode is None:
            return None
        return tuple(env.render() for env in self.envs)

    def close_extras(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()

    # -- snapshots (exact resume, see agents.checkpoint) -------------------------------------

    def get_sim_state(self) -> dict[str, Any]:
        """Every arm's `get_sim_state` and RNG state, the step counters and autoreset flags."""
        return {
            "arms": [
                {"sim": env.get_sim_state(), "np_random": env.np_random.bit_generator.state}
                for env in self.envs
            ],
            "elapsed": self._elapsed.copy(),
            "autoreset": self._autoreset.copy(),
            "needs_reset": self._needs_reset,
        }

    def set_sim_state(self, state: dict[str, Any]) -> None:
        """Restores a `get_sim_state` snapshot of an env built with the same arguments."""
        arms = state["arms"]
        if len(arms) != self.num_envs:
            raise ValueError(f"snapshot has {len(arms)} envs, this env has {self.num_envs}")
        for i, (env, saved) in enumerate(zip(self.envs, arms, strict=True)):
            env.np_random.bit_generator.state = saved["np_random"]
            env.set_sim_state(saved["sim"])
            self._read_arm(i, env)
        self._obs.write(self._angles, self._qvel, self._ee)
        self._elapsed = np.array(state["elapsed"], np.int64)
        self._autoreset = np.array(state["autoreset"], bool)
        self._needs_reset = bool(state["needs_reset"])

    # -- helpers -----------------------------------------------------------------------------

    def _read_arm(self, i: int, env: ArmReachEnv) -> None:
        """Copies arm i's joint angles, velocities and fingertip into the batch arrays."""
        self._angles[i] = env._qpos[env._qpos_index]
        self._qvel[i] = env._qvel[env._qvel_index]
        self._ee[i] = env._ee_xpos

    def _distance_and_success(self) -> tuple[np.ndarray, np.ndarray]:
        """Writes the observations of all arms; returns their distances and success flags."""
        self._obs.write(self._angles, self._qvel, self._ee)
        delta = self._obs.delta
        # (dx^2 + dy^2) + dz^2 then the square root: the single env's order, so equal bits
        distance = np.sqrt((delta * delta).sum(1))
        return distance, distance < self.envs[0]._success_threshold

    def _custom_rewards(self, actions: np.ndarray, info: dict[str, np.ndarray]) -> np.ndarray:
        """`reward_fn` per arm, given what the single env gives it; adds `reward_custom`."""
        rewards = np.zeros(self.num_envs)
        for i, env in enumerate(self.envs):
            if self._autoreset[i]:
                continue
            arm_info = {key: value[i].item() for key, value in info.items()}
            rewards[i] = env._reward_fn(self._observations[i].copy(), actions[i], arm_info)
        info["reward_custom"] = rewards
        return rewards
