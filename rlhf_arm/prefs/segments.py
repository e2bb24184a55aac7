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
| ``starts`` | (S,) int | the reset seed the segment's episode shares with its repeats, -1 if none |
| ``windows`` | (S,) int | the segment's place in its episode: 0 for the first L steps, ... |

Segments of repeated episodes (``episodes_per_start > 1``: the same reset seed, so the same
target and starting pose, with the policy's own sampling and noise) with the same ``starts``
and ``windows`` show two attempts at the same moment of the same task, the arm's analogue of
two answers to one prompt; ``prefs.pairing=same_start`` compares only such segments.
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
    starts: np.ndarray | None = None  # (S,) shared reset seed of repeated episodes, -1: none
    windows: np.ndarray | None = None  # (S,) the segment's index within its episode

    def __post_init__(self) -> None:
        count = len(self.ids)
        if self.starts is None:
            self.starts = np.full(count, -1, np.int64)
        if self.windows is None:
            self.windows = np.full(count, -1, np.int64)

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
        self.starts = np.concatenate([self.starts, other.starts])
        self.windows = np.concatenate([self.windows, other.windows])
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
            starts=self.starts,
            windows=self.windows,
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
            starts = data["starts"] if "starts" in data.files else None
            windows = data["windows"] if "windows" in data.files else None
        if len(set(ids)) != len(ids):
            raise ValueError(f"{path}: segment ids are not unique")
        if obs.ndim != 3 or actions.ndim != 3 or actions.shape[:2] != steps:
            raise ValueError(f"{path}: observations (S, L, D) and actions (S, L, A) disagree")
        if len(ids) != steps[0]:
            raise ValueError(f"{path}: {len(ids)} ids for {steps[0]} segments")
        for name, array in (("starts", starts), ("windows", windows)):
            if array is not None and array.shape != (len(ids),):
                raise ValueError(f"{path}: {name} has shape {array.shape}, not ({len(ids)},)")
        return cls(ids, obs, actions, true_rewards, successes, starts, windows)


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
    episodes_per_start: int = 1,
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
        episodes_per_start: run each start this many times: every episode of a group is reset
            with the group's seed (the first group's is ``seed``, the next ones are drawn from
            it), so they share the target and starting pose and differ only in the policy's
            sampling and noise; their segments record the seed in ``starts``. 1: every episode
            has its own start (``starts`` is -1).

    Returns:
        The segments and the returns and final successes of the episodes run.
    """
    if episodes_per_start < 1:
        raise ValueError(f"episodes_per_start must be >= 1, got {episodes_per_start}")
    low, high = env.action_space.low, env.action_space.high
    rng = np.random.default_rng(seed)
    innovation = math.sqrt(1.0 - exploration_correlation**2) * exploration_noise
    noise, explored = np.zeros(low.shape), rng.random() < explored_fraction
    rows: dict[str, list] = {k: [] for k in ("obs", "action", "reward", "success", "window")}
    starts: list[int] = []
    stats = CollectStats()
    start_seed, repeat = seed, 0  # the current start group and which repeat of it this is
    observation, _ = env.reset(seed=seed)
    episode_steps: list[tuple[np.ndarray, np.ndarray, float, bool]] = []
    episode_return, window = 0.0, 0
    while len(starts) < num_segments:
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
            rows["obs"].append(np.stack(obs))
            rows["action"].append(np.stack(actions))
            rows["reward"].append(rewards)
            rows["success"].append(successes)
            rows["window"].append(window)
            starts.append(start_seed if episodes_per_start > 1 else -1)
            episode_steps, window = [], window + 1
        if terminated or truncated:
            stats.episode_returns.append(episode_return)
            stats.episode_successes.append(float(info["is_success"]))
            episode_return, episode_steps, window = 0.0, [], 0
            noise, explored = np.zeros(low.shape), rng.random() < explored_fraction
            if episodes_per_start == 1:
                observation, _ = env.reset()  # the env's RNG goes on from the first seed
                continue
            repeat += 1
            if repeat == episodes_per_start:
                start_seed, repeat = int(rng.integers(2**31 - 1)), 0
            observation, _ = env.reset(seed=start_seed)
    pool = SegmentPool(
        ids=[f"{id_prefix}{i:04d}" for i in range(num_segments)],
        observations=np.asarray(rows["obs"], dtype=np.float32),
        actions=np.asarray(rows["action"], dtype=np.float32),
        true_rewards=np.asarray(rows["reward"], dtype=np.float32),
        successes=np.asarray(rows["success"], dtype=bool),
        starts=np.asarray(starts, dtype=np.int64),
        windows=np.asarray(rows["window"], dtype=np.int64),
    )
    return pool, stats
