"""collect_rollout: run a policy in a gymnasium VectorEnv for T steps into a RolloutBatch.

Gymnasium 1.x autoreset (https://farama.org/Vector-Autoreset-Mode) is handled exactly:

- ``NEXT_STEP`` (the default of ``make_vec``): the step that ends an episode returns its
  *final* observation, and the next ``step`` resets that sub-env, ignoring the action. That
  reset step is stored with ``mask = 0``. Because the policy acted on the final observation
  at the reset step, ``values[t + 1]`` already is V(final observation): a truncation
  bootstraps from it with no extra forward pass.
- ``SAME_STEP``: the reset happens inside the ending step; the final observation arrives in
  ``info["final_obs"]`` and its value is computed for the truncated sub-envs.
- ``DISABLED``: one episode per row (the text env: one response per prompt). A row that has
  ended is masked for the rest of the rollout, and the rollout stops early once every row
  has ended (on every rank, when several share out the batch), so ``T`` is the longest
  episode. The env is reset by :func:`start_collection`
  before each such rollout. A finished row keeps returning its final observation, so, as
  with ``NEXT_STEP``, ``values[t + 1]`` is V(final observation).

A policy may leave the values out of ``act`` (``values=None``): the critic then runs once
over the whole rollout at the end instead of once per step. A policy with
``rollout_values(batch) -> (values, next_values)`` scores the batch itself (a language
model's critic reads the full text in one pass); otherwise ``value`` runs on all kept
observations and the last one stacked together (the Gaussian MLP policy: one ``[T + 1, N]``
pass instead of ``T`` small ones, about a fifth of its per-step ``act``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from agents import ranks
from agents.policy import ActorCritic, ScoresRollouts
from agents.rollout import Observation, RolloutBatch


def to_tensor(observations: Any, device: torch.device | str = "cpu") -> Observation:
    """Numpy observations (or a dict of them) as float32 tensors (integer ids stay integers)."""
    if isinstance(observations, dict):
        return {k: to_tensor(v, device) for k, v in observations.items()}
    if isinstance(observations, np.ndarray) and observations.dtype.kind == "f":
        # numpy's float32 copy, then no-copy torch: a quarter of as_tensor(...).to(float32)
        return torch.from_numpy(observations.astype(np.float32)).to(device)
    tensor = torch.as_tensor(observations, device=device)
    return tensor.to(torch.float32) if tensor.is_floating_point() else tensor


@dataclass
class CollectState:
    """What carries over between rollouts (and into checkpoints)."""

    observations: Any
    reset_next: np.ndarray  # (N,) bool: NEXT_STEP resets these next step; DISABLED: ended
    episode_returns: np.ndarray  # (N,) return so far of each running episode
    episode_lengths: np.ndarray  # (N,)
    policy_state: Any = None


@dataclass
class EpisodeLog:
    """Finished episodes: return, length, and the final step's numeric ``info`` entries."""

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    final_info: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def merged(cls, logs: list[EpisodeLog]) -> EpisodeLog:
        """One log of the episodes of all of ``logs`` (several ranks' shares of a rollout)."""
        out = cls()
        for log in logs:
            out.returns += log.returns
            out.lengths += log.lengths
            for key, values in log.final_info.items():
                out.final_info.setdefault(key, []).extend(values)
        return out

    def over_ranks(self) -> EpisodeLog:
        """Every rank's episodes of this rollout, on every rank (this log alone without a
        process group), so each logs the whole batch's returns, not its own share's."""
        return self if ranks.world_size() == 1 else self.merged(ranks.gather_all(self))

    def summary(self) -> dict[str, float]:
        if not self.returns:
            return {}
        out = {
            "rollout/ep_return": float(np.mean(self.returns)),
            "rollout/ep_length": float(np.mean(self.lengths)),
            "rollout/episodes": float(len(self.returns)),
        }
        for key, values in self.final_info.items():
            out[f"rollout/final_{key}"] = float(np.mean(values))
        return out


def start_collection(env: gym.vector.VectorEnv, seed: int | None) -> CollectState:
    """Reset ``env`` (seeded) and return the initial :class:`CollectState`."""
    observations, _ = env.reset(seed=seed)
    n = env.num_envs
    return CollectState(observations, np.zeros(n, bool), np.zeros(n), np.zeros(n, np.int64))


def _numeric_final_info(info: dict[str, Any], index: int) -> dict[str, float]:
    """The scalar numeric entries of a vector-env info for sub-env ``index``."""
    out = {}
    for key, value in info.items():
        if key.startswith("_") or not isinstance(value, np.ndarray) or value.ndim != 1:
            continue
        present = info.get(f"_{key}")
        if present is not None and not present[index]:
            continue
        if value.dtype.kind in "biuf":
            out[key] = float(value[index])
    return out


def _clip_actions(env: gym.vector.VectorEnv, actions: np.ndarray) -> np.ndarray:
    # A Gaussian policy samples beyond the Box; like SB3 we clip what the env receives and
    # keep the unclipped sample for the log-probability.
    space = env.single_action_space
    if isinstance(space, gym.spaces.Box):
        return np.clip(actions, space.low, space.high)
    return actions


@torch.no_grad()
def collect_rollout(
    env: gym.vector.VectorEnv,
    policy: ActorCritic,
    num_steps: int,
    state: CollectState,
    device: torch.device | str = "cpu",
    keep_observations: Literal["every_step", "first_step"] = "every_step",
) -> tuple[RolloutBatch, CollectState, EpisodeLog]:
    """Step ``env`` ``num_steps`` times with ``policy``.

    Args:
        env: a gymnasium ``VectorEnv`` with ``NEXT_STEP``, ``SAME_STEP`` or ``DISABLED``
            autoreset (see the module docstring).
        policy: an :class:`~agents.policy.ActorCritic`.
        num_steps: ``T``, steps per sub-env (at most, with ``DISABLED``).
        state: from :func:`start_collection` or the previous call.
        device: where the batch's tensors live.
        keep_observations: ``"first_step"`` keeps only the observation each row starts the
            rollout with (``[N, 1, ...]``), for envs whose later observations follow from it
            and the actions (text: prompt + tokens), saving ``T`` copies.

    Returns:
        ``(batch, new_state, episodes)``: a ``[N, T]`` batch (``N = env.num_envs``), the state
        to pass next time, and the episodes that finished during the rollout.
    """
    mode = AutoresetMode(env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP))
    if mode is AutoresetMode.DISABLED and state.reset_next.any():
        raise ValueError("some rows have ended: call start_collection (reset) first")
    n = env.num_envs
    # Per-step results go to lists and numpy buffers and become tensors once at the end: a
    # torch item assignment per step and field cost about a quarter of the arm's rollout.
    obs_steps, action_steps, logprob_steps, value_steps = [], [], [], []
    final_values = torch.zeros(num_steps, n)
    rewards, mask = np.zeros((num_steps, n), np.float32), np.ones((num_steps, n), np.float32)
    terminated, truncated = np.zeros((num_steps, n), bool), np.zeros((num_steps, n), bool)
    episodes = EpisodeLog()
    obs, reset_next, policy_state = state.observations, state.reset_next.copy(), state.policy_state
    ep_returns, ep_lengths = state.episode_returns.copy(), state.episode_lengths.copy()

    deferred_values = False
    steps = num_steps
    for t in range(num_steps):
        obs_tensor = to_tensor(obs, device)
        out = policy.act(obs_tensor, policy_state)
        policy_state = out.state
        if keep_observations == "every_step" or t == 0:
            obs_steps.append(obs_tensor)
        action_steps.append(out.actions)
        logprob_steps.append(out.logprobs.cpu())
        deferred_values = out.values is None
        if not deferred_values:
            value_steps.append(out.values.cpu())
        real = ~reset_next
        mask[t] = real

        obs, reward, term, trunc, info = env.step(_clip_actions(env, out.actions.cpu().numpy()))
        rewards[t] = reward * real
        terminated[t] = term & real
        truncated[t] = trunc & real
        ep_returns += reward * real
        ep_lengths += real
        done = (term | trunc) & real
        if mode is AutoresetMode.SAME_STEP:
            for i in np.flatnonzero(trunc & ~term):
                final = to_tensor(info["final_obs"][i], device)
                final_values[t, i] = policy.value(_unsqueeze(final), None)[0].cpu()
        for i in np.flatnonzero(done):
            step_info = info["final_info"] if mode is AutoresetMode.SAME_STEP else info
            episodes.returns.append(float(ep_returns[i]))
            episodes.lengths.append(int(ep_lengths[i]))
            for key, value in _numeric_final_info(step_info, i).items():
                episodes.final_info.setdefault(key, []).append(value)
            ep_returns[i], ep_lengths[i] = 0.0, 0
        if mode is AutoresetMode.NEXT_STEP:
            reset_next = done
        elif mode is AutoresetMode.DISABLED:
            reset_next = reset_next | done
            # every row's episode is over, on every rank: ranks sharing out a batch must step
            # together (under ZeRO-3 each forward gathers the weights from all of them)
            if ranks.all_true(reset_next.all()):
                steps = t + 1
                break
        else:
            reset_next = np.zeros(n, bool)

    logprobs = torch.stack(logprob_steps)  # (steps, N)
    rewards, mask = torch.from_numpy(rewards), torch.from_numpy(mask)
    terminated, truncated = torch.from_numpy(terminated), torch.from_numpy(truncated)
    scores_batch = deferred_values and isinstance(policy, ScoresRollouts)
    if scores_batch:
        values = torch.zeros(steps, n)  # rollout_values fills them below
    elif deferred_values:
        if keep_observations != "every_step" or policy_state is not None:
            raise ValueError(
                "act returned values=None: a policy that keeps only first-step observations "
                "or a recurrent state must provide rollout_values(batch)"
            )
        last_obs = to_tensor(obs, device)
        values_and_last = policy.value(_stack([*obs_steps, last_obs], dim=0)).cpu()  # (T+1, N)
        values, last_values = values_and_last[:-1], values_and_last[-1]
    else:
        values = torch.stack(value_steps)
        last_values = policy.value(to_tensor(obs, device), policy_state).cpu()
    if not scores_batch:
        next_values = torch.cat([values[1:steps], last_values[None]])  # V(obs_{t+1})
        if mode is AutoresetMode.SAME_STEP:
            # there obs_{t+1} is a reset observation where step t ended: keep the loop's value
            ended = terminated | truncated
            next_values = torch.where(ended, final_values, next_values)
    else:
        next_values = values[:steps]

    def rows_first(x: torch.Tensor) -> torch.Tensor:  # (T, N) -> (N, T), cut to the steps run
        return x[:steps].T.contiguous()

    batch = RolloutBatch(
        observations=_stack(obs_steps),
        actions=torch.stack(action_steps, 1),
        logprobs=rows_first(logprobs),
        values=rows_first(values),
        rewards=rows_first(rewards),
        terminated=rows_first(terminated),
        truncated=rows_first(truncated),
        next_values=rows_first(next_values),
        mask=rows_first(mask),
    )
    if scores_batch:
        batch.values, batch.next_values = policy.rollout_values(batch)
    new_state = CollectState(obs, reset_next, ep_returns, ep_lengths, policy_state)
    return batch, new_state, episodes


def _unsqueeze(obs: Observation) -> Observation:
    if isinstance(obs, dict):
        return {k: v.unsqueeze(0) for k, v in obs.items()}
    return obs.unsqueeze(0)


def _stack(steps: list[Observation], dim: int = 1) -> Observation:
    """``T`` observations of ``[N, ...]`` -> ``[N, T, ...]`` (``dim=0``: ``[T, N, ...]``)."""
    if isinstance(steps[0], dict):
        return {k: torch.stack([s[k] for s in steps], dim) for k in steps[0]}
    return torch.stack(steps, dim)
