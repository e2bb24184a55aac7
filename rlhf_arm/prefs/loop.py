"""The preference loop: collect segments, ask for labels, fit the reward model, PPO on it.

Christiano et al. 2017, "Deep reinforcement learning from human preferences", on the arm:

```
round r = 0 .. rounds-1:
  segments <- the current policy's episodes, cut into L-step clips   (segments.py)
  pairs    <- most-disputed candidates by the ensemble, or random    (reward_model.py)
  labels   <- the oracle (true return, optional noise) or a JSONL file (labels.py)
  fit the reward-model ensemble on every label so far, pairwise_loss  (agents.preference)
  PPO (agents.train.train) on the env with reward_fn = the ensemble mean, standardised
  evaluate the policy on the env's own reward: success rate and return
```

The label budget is spent by a schedule: a share up front on the initial policy's segments
(``initial_label_fraction``), the rest spread over the later rounds. A share of every
round's labels is held out of training and reports the reward model's accuracy.

After every round the whole loop state (policy, optimisers, reward model, segments, labels,
RNGs, counters) goes to the run's checkpoint atomically (:mod:`rlhf_arm.prefs.state`);
running the same config again continues after the last finished round and ends where an
uninterrupted run would.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from agents.config import ConfigError, save_config
from agents.interrupt import DeferredInterrupt
from agents.logger import MetricsLogger
from agents.run_folder import CONFIG_NAME, commit_config, start_run
from agents.train import limit_cpu_threads, train
from rlhf_arm.experiment import (
    build_policy,
    evaluate_policy,
    make_optimizer,
    make_vector_env,
)
from rlhf_arm.prefs.config import PrefsConfig
from rlhf_arm.prefs.human import HumanOracle
from rlhf_arm.prefs.labels import Preferences, oracle_preferences, read_labels
from rlhf_arm.prefs.pairs import allocate, label_schedule, same_start_pairs, selection_score
from rlhf_arm.prefs.reward_model import (
    NumpyReward,
    TrajectoryRewardModel,
    evaluate_reward_model,
    export_numpy,
    fit_reward_model,
)
from rlhf_arm.prefs.segments import SegmentPool, collect_segments
from rlhf_arm.prefs.state import restore_state, save_round

PREFS_CONFIG_NAME = "prefs_config.yaml"
"""the preference run's own config (``config.yaml`` holds its PPO pieces for ``arm eval``)"""


@dataclass
class PrefsResult:
    """What :func:`train_prefs` returns: PPO steps, labels used, time, per-round metrics."""

    global_step: int
    labels_used: int
    seconds: float
    rounds: list[dict[str, float]] = field(default_factory=list)
    """per round: prefs/*, the last PPO iteration's metrics and the evaluation"""


def train_prefs(
    config: PrefsConfig,
    resume: bool = True,
    stop_after_rounds: int | None = None,
    allow_config_change: bool = False,
) -> PrefsResult:
    """Runs the loop as configured (see the module docstring).

    Args:
        config: the run.
        resume: continue after the last finished round saved in the run's checkpoint (a
            crash or Ctrl-C loses at most the round in progress); False starts afresh.
        stop_after_rounds: stop after this many rounds of this call (resume later).
        allow_config_change: resume even though the config differs from the saved one.

    Returns:
        A :class:`PrefsResult` over every round so far (resumed ones included).
    """
    resuming = start_run(config.run_dir, config, resume, allow_config_change, PREFS_CONFIG_NAME)
    loop = PreferenceLoop(config)
    try:
        if resuming:
            restore_state(loop)
            commit_config(loop.run_dir, config, PREFS_CONFIG_NAME)
        return loop.run(stop_after_rounds)
    finally:
        loop.close()


def label_folder(config: PrefsConfig) -> Path:
    """Where ``oracle: human`` queues pairs and reads labels (``prefs.label_folder``)."""
    return Path(config.prefs.label_folder or Path(config.run_dir) / "label")


class PreferenceLoop:
    """The state of one run: policy, reward model, segments, labels, step counters."""

    def __init__(self, config: PrefsConfig) -> None:
        self.config = config
        self.run_dir = Path(config.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        limit_cpu_threads(config.run.torch_threads)
        torch.manual_seed(config.run.seed)  # the policy's and reward model's initial weights
        self.env = gym.make(config.env.id, **config.env.kwargs)  # the env's own reward
        self.episode_steps = self.env.spec.max_episode_steps if self.env.spec else None
        if config.prefs.pairing == "same_start" and not (
            self.episode_steps and self.episode_steps >= config.prefs.segment_length
        ):
            raise ValueError(
                "pairing 'same_start' needs episodes of a fixed length (the registration's "
                f"max_episode_steps, here {self.episode_steps}) of at least one segment "
                f"({config.prefs.segment_length} steps)"
            )
        probe = make_vector_env(config.env, num_envs=1)
        self.policy = build_policy(config.continuous(), probe)
        probe.close()
        self.optimizer = make_optimizer(self.policy, config.run)
        rm = config.reward_model
        obs_dim, action_dim = self.policy.obs_dim, self.policy.action_dim
        try:
            self.model = TrajectoryRewardModel(
                obs_dim, action_dim, tuple(rm.hidden), rm.ensemble_size,
                observation_indices=rm.observation_indices,
            )  # fmt: skip
        except ValueError as error:
            raise ConfigError(f"reward_model: {error}") from error
        self.rm_optimizer = torch.optim.Adam(
            self.model.parameters(), lr=rm.learning_rate, weight_decay=rm.weight_decay
        )
        self.rng = np.random.default_rng(config.run.seed)
        self.generator = torch.Generator().manual_seed(config.run.seed)
        self.pool = SegmentPool()
        self.train_labels, self.heldout_labels = Preferences.empty(), Preferences.empty()
        self.global_step, self.ppo_iterations, self.fitted = 0, 0, False
        self.next_round, self.history = 0, []
        self.logger: MetricsLogger | None = None  # opened by run(), after any restore
        self.human: HumanOracle | None = None  # opened by run() with oracle 'human'

    @property
    def labels_used(self) -> int:
        return len(self.train_labels) + len(self.heldout_labels)

    def close(self) -> None:
        self.env.close()
        if self.logger is not None:
            self.logger.close()

    def run(self, stop_after_rounds: int | None = None) -> PrefsResult:
        config, start = self.config, time.perf_counter()
        labels = label_schedule(config.prefs)
        batch_steps = config.env.num_envs * config.run.num_steps
        total_iterations = max(config.prefs.rounds, config.run.total_timesteps // batch_steps)
        iterations = allocate(total_iterations, np.ones(config.prefs.rounds))
        result = PrefsResult(0, 0, 0.0, rounds=self.history)
        # what `arm eval|video` read: the PPO pieces of the config
        save_config(config.continuous(), self.run_dir / CONFIG_NAME)
        # a resumed run drops the events the stopped one logged after its last saved round
        self.logger = MetricsLogger(self.run_dir / "tb", purge_step=self.global_step or None)
        first = self.next_round
        # Ctrl-C finishes the round in progress and saves it (a second one stops at once)
        with DeferredInterrupt("round") as interrupt:
            if config.prefs.oracle == "human":  # waiting for people: Ctrl-C stops the wait
                self.human = HumanOracle(
                    label_folder(config), {"id": config.env.id, "kwargs": config.env.kwargs},
                    config.prefs.quorum, config.prefs.label_timeout_s,
                    should_stop=lambda: interrupt.requested,
                )  # fmt: skip
            for round_index in range(first, config.prefs.rounds):
                if stop_after_rounds is not None and round_index - first >= stop_after_rounds:
                    break
                if config.prefs.human_labels is not None:
                    metrics = self.load_human_labels() if round_index == 0 else {}
                else:
                    metrics = self.query(round_index, labels[round_index])
                if metrics:  # new labels: refit
                    metrics.update(self.fit())
                reward_fn = self.reward_fn()
                metrics.update(self.train_policy(round_index, iterations[round_index], reward_fn))
                metrics.update(self.evaluate(round_index))
                metrics["prefs/labels_used"] = float(self.labels_used)
                metrics["prefs/round"] = float(round_index)
                self.logger.log(metrics, self.global_step)
                self.history.append({"global_step": float(self.global_step), **metrics})
                self.next_round = round_index + 1
                # every round is saved; Ctrl-C during it stops here
                interrupt.boundary(partial(save_round, self, round_index, reward_fn), due=True)
        result.global_step, result.labels_used = self.global_step, self.labels_used
        result.seconds = time.perf_counter() - start
        return result

    # -- labels ------------------------------------------------------------------------------

    def query(self, round_index: int, num_labels: int) -> dict[str, float]:
        """Collects this round's segments and asks the oracle about ``num_labels`` pairs."""
        if num_labels == 0:
            return {}
        prefs = self.config.prefs
        selective = prefs.selection != "random" and self.fitted
        num_candidates = num_labels * (prefs.candidate_factor if selective else 1)
        num_segments = max(2, math.ceil(prefs.segments_per_label * num_labels))
        if prefs.pairing == "same_start":
            num_segments = max(num_segments, self._same_start_segments(num_candidates))
        segments, stats = collect_segments(
            self.env,
            self.policy,
            num_segments,
            prefs.segment_length,
            seed=self.config.run.seed + 7919 * round_index,
            id_prefix=f"r{round_index:02d}-s",
            exploration_noise=prefs.exploration_noise,
            exploration_correlation=prefs.exploration_correlation,
            explored_fraction=prefs.explored_fraction,
            episodes_per_start=prefs.episodes_per_start,
        )
        rows = self.pool.extend(segments)
        left, right = self.candidate_pairs(rows, num_candidates)
        metrics = {}
        if selective:
            name, score = selection_score(
                prefs.selection, self.model, *self.pool_tensors(), left, right
            )
            keep = np.argsort(-score, kind="stable")[:num_labels]
            left, right = left[keep], right[keep]
            metrics[f"prefs/selected_{name}"] = float(score[keep].mean())
            metrics[f"prefs/candidate_{name}"] = float(score.mean())
        if self.human is not None:
            new = self.human.ask(round_index, self.pool, rows, left, right, not self.labels_used)
            metrics["prefs/human_labels_round"] = float(len(new))
        else:
            new = oracle_preferences(
                self.pool.true_returns(), left, right, self.rng, prefs.label_noise,
                prefs.equal_margin,
            )  # fmt: skip
        self.add_labels(new)
        metrics["prefs/segment_true_return"] = float(np.mean(stats.episode_returns or [np.nan]))
        metrics["prefs/segment_env_steps"] = float(stats.steps)
        return metrics

    def _same_start_segments(self, num_pairs: int) -> int:
        """Segments to collect for ``num_pairs`` same-start pairs: whole groups of
        ``episodes_per_start`` episodes, each giving ``C(k, 2)`` pairs per window."""
        prefs = self.config.prefs
        windows = self.episode_steps // prefs.segment_length
        repeats = prefs.episodes_per_start
        pairs_per_group = repeats * (repeats - 1) // 2 * windows
        return math.ceil(num_pairs / pairs_per_group) * repeats * windows

    def candidate_pairs(self, rows: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """``count`` distinct random pairs of different segments among ``rows`` (with
        ``pairing='same_start'``, of segments of the same start and window; fewer if there
        are fewer such pairs)."""
        if self.config.prefs.pairing == "same_start":
            ordered = same_start_pairs(rows, self.pool.starts, self.pool.windows)
            ordered = ordered[self.rng.permutation(len(ordered))[:count]]
        else:
            pairs: set[tuple[int, int]] = set()
            limit = len(rows) * (len(rows) - 1) // 2
            while len(pairs) < min(count, limit):
                i, j = self.rng.choice(rows, size=2, replace=False)
                pairs.add((int(min(i, j)), int(max(i, j))))
            ordered = np.array(sorted(pairs))
            ordered = ordered[self.rng.permutation(len(ordered))]
        swap = self.rng.random(len(ordered)) < 0.5  # which side is "left" carries no meaning
        left = np.where(swap, ordered[:, 1], ordered[:, 0])
        right = np.where(swap, ordered[:, 0], ordered[:, 1])
        return left, right

    def add_labels(self, new: Preferences) -> None:
        """Holds out ``heldout_fraction`` of ``new`` (at random), trains on the rest."""
        order = self.rng.permutation(len(new))
        num_heldout = round(self.config.prefs.heldout_fraction * len(new))
        self.heldout_labels = self.heldout_labels + new.subset(order[:num_heldout])
        self.train_labels = self.train_labels + new.subset(order[num_heldout:])

    def load_human_labels(self) -> dict[str, float]:
        prefs = self.config.prefs
        self.pool = SegmentPool.load(prefs.segments_file)
        self.add_labels(read_labels(prefs.human_labels, self.pool.ids))
        return {"prefs/human_labels": float(self.labels_used)}

    # -- reward model ------------------------------------------------------------------------

    def pool_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.as_tensor(self.pool.observations), torch.as_tensor(self.pool.actions)

    def fit(self) -> dict[str, float]:
        """Fits the ensemble on every training label so far; held-out accuracy."""
        rm = self.config.reward_model
        if rm.refresh_normalization or not self.fitted:
            # Inputs standardised over every segment so far: statistics of the first
            # (near-motionless) policy alone put later states 10+ standard deviations out.
            self.model.set_input_normalization(self.pool.observations, self.pool.actions)
        observations, actions = self.pool_tensors()
        metrics = fit_reward_model(
            self.model, self.rm_optimizer, observations, actions, self.train_labels,
            rm.epochs, rm.batch_size, self.generator, rm.bootstrap,
        )  # fmt: skip
        self.fitted = True
        for split, labels in (("train", self.train_labels), ("heldout", self.heldout_labels)):
            for key, value in evaluate_reward_model(
                self.model, observations, actions, labels
            ).items():
                metrics[f"prefs/rm_{key}_{split}"] = value
        if self.human is not None:  # for the labelling app's statistics page
            every = self.train_labels + self.heldout_labels
            accuracy = evaluate_reward_model(self.model, observations, actions, every)
            self.human.report_accuracy(
                f"arm prefs, after {self.labels_used} labels", self.labels_used,
                accuracy.get("accuracy", float("nan")),
            )  # fmt: skip
        return metrics

    def reward_fn(self) -> NumpyReward:
        """The ensemble mean, standardised over every step of the pool (per round)."""
        with torch.no_grad():
            rewards = self.model(*self.pool_tensors()).mean(0).numpy()  # (S, L)
        return export_numpy(self.model, float(rewards.mean()), float(rewards.std()) + 1e-8)

    # -- policy ------------------------------------------------------------------------------

    def train_policy(self, round_index: int, iterations: int, reward_fn: NumpyReward) -> dict:
        """``iterations`` PPO iterations of :func:`agents.train.train` on the learned reward.

        The learning rate decays linearly over the whole run (not per round), set here
        between iterations; TensorBoard steps continue across rounds.
        """
        config = self.config
        batch_steps = config.env.num_envs * config.run.num_steps
        total_iterations = max(config.prefs.rounds, config.run.total_timesteps // batch_steps)
        run = replace(
            config.run,
            total_timesteps=iterations * batch_steps,
            seed=config.run.seed + 1000 * (round_index + 1),  # fresh env and minibatch RNG
            anneal_lr=False,
            progress=False,
            checkpoint_every=iterations + 1,
        )

        def set_learning_rate() -> None:
            if config.run.anneal_lr:
                progress = self.ppo_iterations / total_iterations
                for group in self.optimizer.param_groups:
                    group["lr"] = config.run.learning_rate * (1.0 - progress)

        def on_iteration(_: int, metrics: dict[str, float]) -> None:
            self.ppo_iterations += 1
            self.global_step += batch_steps
            self.logger.log(metrics, self.global_step)
            set_learning_rate()

        set_learning_rate()
        env = make_vector_env(config.env, reward_fn=reward_fn)
        try:
            result = train(
                env, self.policy, self.optimizer, config.ppo, run, on_iteration=on_iteration
            )
        finally:
            env.close()
        last = result.history[-1] if result.history else {}
        return {k: v for k, v in last.items() if k.startswith(("rollout/", "policy/", "loss/"))}

    def evaluate(self, round_index: int) -> dict[str, float]:
        """Deterministic episodes on the env's own reward: the true success and return."""
        episodes = self.config.prefs.eval_episodes
        if episodes < 1:
            return {}
        result = evaluate_policy(
            self.policy, self.config.env, episodes, seed=12345 + round_index, num_envs=10
        )
        self.policy.train()
        metrics = {"prefs/true_return": result["mean_return"]}
        if "success_rate" in result:
            metrics["prefs/true_success_rate"] = result["success_rate"]
        if "mean_final_distance" in result:
            metrics["prefs/true_final_distance"] = result["mean_final_distance"]
        return metrics
