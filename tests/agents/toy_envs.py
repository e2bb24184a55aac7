"""A tiny continuous env for the core's tests: move a 2-D point onto a random goal."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class PointGoalEnv(gym.Env):
    """Observation ``[pos, goal - pos]``, action a velocity in ``[-1, 1]^2``.

    The reward is minus the distance to the goal.
    """

    metadata = {"render_modes": []}

    def __init__(self, step_size: float = 0.1) -> None:
        self.step_size = step_size
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.pos = np.zeros(2)
        self.goal = np.zeros(2)

    def _obs(self) -> np.ndarray:
        return np.concatenate([self.pos, self.goal - self.pos]).astype(np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(-1, 1, 2)
        self.goal = self.np_random.uniform(-1, 1, 2)
        return self._obs(), {}

    def step(self, action):
        self.pos = self.pos + self.step_size * np.asarray(action, dtype=np.float64)
        distance = float(np.linalg.norm(self.goal - self.pos))
        info = {"distance": distance, "is_success": distance < 0.1}
        return self._obs(), -distance, False, False, info

    def get_sim_state(self) -> dict:
        return {"pos": self.pos.copy(), "goal": self.goal.copy()}

    def set_sim_state(self, state: dict) -> None:
        self.pos, self.goal = state["pos"].copy(), state["goal"].copy()


def make_point_env(num_envs: int = 4, max_steps: int = 20, **kwargs) -> gym.vector.SyncVectorEnv:
    return gym.vector.SyncVectorEnv(
        [lambda: gym.wrappers.TimeLimit(PointGoalEnv(), max_steps) for _ in range(num_envs)],
        **kwargs,
    )


def point_rollout(policy, steps: int = 40, num_envs: int = 3):
    """A ``[num_envs, steps]`` rollout of ``policy`` on the point env with GAE's advantages
    and returns set (gamma 0.99, lambda 0.95): a batch ``ppo_update`` can run on."""
    from agents import collect_rollout, start_collection
    from agents.gae import compute_gae

    env = make_point_env(num_envs)
    batch, _, _ = collect_rollout(env, policy, steps, start_collection(env, seed=0))
    batch.advantages, batch.returns = compute_gae(
        batch.rewards, batch.values, batch.next_values, batch.terminated, batch.truncated,
        batch.mask, 0.99, 0.95,
    )  # fmt: skip
    return batch
