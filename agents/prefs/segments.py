"""Segments: short clips of arm trajectories that a labeller compares, and their file format.

A segment is ``L`` consecutive steps of one episode: for each step the observation *after*
the step and the action taken, which is exactly what the env's ``reward_fn(observation,
action, info)`` sees, so a reward model trained on segments can be plugged in as
``reward_fn`` unchanged. The env's own reward of each step is kept too (``true_rewards``):
the synthetic oracle compares their sums, and the benchmarks report them.

File format (``segments.npz``, written by :meth:`SegmentPool.save`), so that a labelling tool
can show the clips a human is asked about:

| array | shape | meaning |
|---|---|---|
| ``ids`` | (S,) str | unique segment ids, e.g. ``"r03-s0012"`` (round 3, 12th segment) |
| ``observations`` | (S, L, D) float32 | observation after each step |
| ``actions`` | (S, L, A) float32 | action of each step (clipped to the action space) |
| ``true_rewards`` | (S, L) float32 | the env's reward of each step |
| ``successes`` | (S, L) bool | ``info["is_success"]`` of each step |
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from agents.gaussian import GaussianActorCritic


@dataclass
class SegmentPool:
    """All segments collected so far (``S`` of them, ``L`` steps each)."""

    ids: list[str] = field(default_factory=list)
    observations: np.ndarray | None = None  # (S, L, D)
    actions: np.ndarray | None = None  # (S, L, A)
    true_rewards: np.ndarray | None = None  # (S, L)
    successes: np.ndarray | None = None  # (S, L)

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self) -> dict[str, int]:
        """Segment id -> row."""
        return {segment_id: row for row, segment_id in enumerate(self.ids)}

    def extend(self, other: SegmentPool) -> np.ndarray:
        """Appends ``other``'s segments; returns their rows in this pool."""
        duplicates = set(self.ids) & set(other.ids)
        if duplicates:
            raise ValueError(f"segment ids already in the pool: {sorted(duplicates)[:3]}")
        start = len(self)
        if self.observations is None:
            self.observations, self.actions = other.observations, other.actions
            self.true_rewards, self.successes = other.true_rewards, other.successes
        else:
            self.observations = np.concatenate([self.observations, other.observations])
            self.actions = np.concatenate([self.actions, other.actions])
            self.true_rewards = np.concatenate([self.true_rewards, other.true_rewards])
            self.successes = np.concatenate([self.successes, other.successes])
        self.ids.extend(other.ids)
        return np.arange(start, len(self))

    def true_returns(self) -> np.ndarray:
        """The env's return of each segment, shape (S,)."""
        return self.true_rewards.sum(axis=1)

    def save(self, path: str | Path) -> Path:
        """Writes the pool as ``.npz`` (see the module docstring)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            ids=np.asarray(self.ids, dtype=str),
            observations=self.observations,
            actions=self.actions,
            true_rewards=self.true_rewards,
            successes=self.successes,
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> SegmentPool:
        """Reads a pool written by :meth:`save`; ValueError if arrays are missing or ragged."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"segments file not found: {path}")
        with np.load(path, allow_pickle=False) as data:
            missing = {"ids", "observations", "actions"} - set(data.files)
            if missing:
                raise ValueError(f"{path}: missing arrays {sorted(missing)}")
            ids = [str(x) for x in data["ids"]]
            obs, actions = data["observations"], data["actions"]
            steps = obs.shape[:2]
            true_rewards = (
                data["true_rewards"] if "true_rewards" in data.files else np.full(steps, np.nan)
            )
            successes = data["successes"] if "successes" in data.files else np.zeros(steps, bool)
        if len(set(ids)) != len(ids):
            raise ValueError(f"{path}: segment ids are not unique")
        if obs.ndim != 3 or actions.ndim != 3 or actions.shape[:2] != steps:
            raise ValueError(f"{path}: observations (S, L, D) and actions (S, L, A) disagree")
        if len(ids) != steps[0]:
            raise ValueError(f"{path}: {len(ids)} ids for {steps[0]} segments")
        return cls(ids, obs, actions, true_rewards, successes)


@dataclass
class CollectStats:
    """What the collection saw of the policy under the env's own reward."""

    episode_returns: list[float] = field(default_factory=list)
    episode_successes: list[float] = field(default_factory=list)
    steps: int = 0


@torch.no_grad()
def collect_segments(
    env: gym.Env,
    policy: GaussianActorCritic,
    num_segments: int,
    segment_length: int,
    seed: int,
    id_prefix: str = "s",
    exploration_noise: float = 0.0,
    exploration_correlation: float = 0.9,
    explored_fraction: float = 0.5,
) -> tuple[SegmentPool, CollectStats]:
    """Runs the (stochastic) policy for whole episodes and cuts them into segments.

    Each episode is cut into ``episode_length // segment_length`` back-to-back segments
    (the remainder at the end is dropped), so every segment lies within one episode.

    A share of the episodes adds temporally correlated noise to the policy's actions (an
    AR(1) process, ``n_t = rho n_{t-1} + sqrt(1 - rho^2) sigma eps_t``, so that the arm
    sweeps the workspace instead of jittering in place). A reward model fitted only on the
    states the policy visits ranks the states the next policy reaches badly, and PPO
    exploits exactly those errors; wider clips keep the model honest there.

    Args:
        env: one env (not vectorised) with the env's own reward, reporting ``is_success``.
        policy: samples actions for ``[1, D]`` observations.
        num_segments: how many to collect.
        segment_length: ``L``, steps per segment.
        seed: the first episode's reset seed (later episodes continue its RNG).
        id_prefix: ids are ``f"{id_prefix}{i:04d}"``.
        exploration_noise: sigma of the action noise (0: the policy alone).
        exploration_correlation: rho, the noise's step-to-step correlation.
        explored_fraction: the chance that an episode gets the noise.

    Returns:
        The segments and the returns and final successes of the episodes run.
    """
    low, high = env.action_space.low, env.action_space.high
    rng = np.random.default_rng(seed)
    innovation = math.sqrt(1.0 - exploration_correlation**2) * exploration_noise
    noise, explored = np.zeros(low.shape), rng.random() < explored_fraction
    obs_rows, action_rows, reward_rows, success_rows = [], [], [], []
    stats = CollectStats()
    observation, _ = env.reset(seed=seed)
    episode_steps: list[tuple[np.ndarray, np.ndarray, float, bool]] = []
    episode_return = 0.0
    while len(obs_rows) < num_segments:
        out = policy.act(torch.as_tensor(observation, dtype=torch.float32)[None])
        action = out.actions[0].numpy()
        if explored and exploration_noise > 0:
            noise = exploration_correlation * noise + innovation * rng.normal(size=noise.shape)
            action = action + noise
        action = np.clip(action, low, high)
        observation, reward, terminated, truncated, info = env.step(action)
        stats.steps += 1
        episode_return += float(reward)
        episode_steps.append((observation, action, float(reward), bool(info["is_success"])))
        if len(episode_steps) == segment_length:
            obs, actions, rewards, successes = zip(*episode_steps, strict=True)
            obs_rows.append(np.stack(obs))
            action_rows.append(np.stack(actions))
            reward_rows.append(rewards)
            success_rows.append(successes)
            episode_steps = []
        if terminated or truncated:
            stats.episode_returns.append(episode_return)
            stats.episode_successes.append(float(info["is_success"]))
            episode_return, episode_steps = 0.0, []
            noise, explored = np.zeros(low.shape), rng.random() < explored_fraction
            observation, _ = env.reset()
    pool = SegmentPool(
        ids=[f"{id_prefix}{i:04d}" for i in range(num_segments)],
        observations=np.asarray(obs_rows, dtype=np.float32),
        actions=np.asarray(action_rows, dtype=np.float32),
        true_rewards=np.asarray(reward_rows, dtype=np.float32),
        successes=np.asarray(success_rows, dtype=bool),
    )
    return pool, stats
