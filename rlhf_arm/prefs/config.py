"""The configuration of a preference-learning run: PPO pieces plus labels and reward model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agents.ppo import PPOConfig
from agents.train import RunConfig
from rlhf_arm.experiment import ContinuousConfig, EnvConfig, PolicyConfig


@dataclass
class PreferenceConfig:
    """Where the labels come from and how the budget is spent."""

    label_budget: int = 1000
    """labels over the whole run, held-out ones included"""
    initial_label_fraction: float = 0.25
    """share of the budget spent before any PPO, on the initial policy's segments"""
    label_schedule: Literal["constant", "hyperbolic"] = "constant"
    """the rest over rounds 1..: equal shares, or shares falling as 1/r (Christiano et al.)"""
    rounds: int = 10
    """label -> fit -> PPO rounds; PPO steps (run.total_timesteps) are split evenly"""
    segment_length: int = 25
    """steps per segment (L); episodes of 100 steps give 100 // L segments"""
    segments_per_label: float = 2.0
    """new segments collected per label asked for in a round"""
    exploration_noise: float = 0.0
    """sigma of correlated action noise in some segment episodes (segments.collect_segments)"""
    exploration_correlation: float = 0.9
    """step-to-step correlation of that noise"""
    explored_fraction: float = 0.5
    """share of segment episodes that get the noise"""
    episodes_per_start: int = 1
    """episodes run from each start (reset seed: target and starting pose) when collecting
    segments; > 1 gives repeated attempts at the same task to compare (``pairing``)"""
    pairing: Literal["any", "same_start"] = "any"
    """candidate pairs: any two new segments, or only two attempts at the same start and
    moment (same ``starts`` and ``windows``; needs ``episodes_per_start >= 2``). Comparing
    clips of different targets teaches the model which targets are easy, a property of the
    task the policy cannot change but can imitate by holding the fingertip where easy targets
    lie; same-start pairs carry no such signal, as text pairs share their prompt"""
    selection: Literal["uncertainty", "margin", "random"] = "uncertainty"
    """'uncertainty': the candidate pairs with the largest ensemble variance of P(left);
    'margin': those whose ensemble-mean P(left) is closest to 1/2 (the model cannot tell
    them apart, e.g. two clips near the target); 'random': any"""
    candidate_factor: int = 4
    """candidate pairs per label for 'uncertainty' and 'margin'"""
    label_noise: float = 0.0
    """probability that the oracle flips a label"""
    equal_margin: float = 0.0
    """the oracle says 'equal' when the true returns differ by at most this"""
    heldout_fraction: float = 0.1
    """share of each round's labels kept out of training for prefs/rm_accuracy_heldout"""
    human_labels: str | None = None
    """a JSONL label file (rlhf_arm.prefs.labels): all labels from it, no oracle"""
    segments_file: str | None = None
    """the segments.npz the human labels refer to (needed with human_labels)"""
    oracle: Literal["synthetic", "human"] = "synthetic"
    """who labels each round's pairs: the synthetic oracle above, or people in the labelling
    app (``rlhf-gym label``), the loop waiting for them (rlhf_arm.prefs.human)"""
    label_folder: str | None = None
    """with oracle 'human': the labelling folder the app serves (None: RUN/label)"""
    quorum: int = 1
    """with oracle 'human': labellers per pair (labelled or skipped) before it counts"""
    label_timeout_s: float | None = None
    """with oracle 'human': go on after this many seconds per round with the labels so far
    (None: wait for every pair)"""
    label_port: int | None = None
    """with oracle 'human': ``rlhf-gym arm prefs`` serves the app on 127.0.0.1:PORT itself
    while it runs (None: run ``rlhf-gym label FOLDER`` beside it)"""
    eval_episodes: int = 50
    """deterministic episodes on the env's own reward after each round"""

    def __post_init__(self) -> None:
        if self.label_budget < 1 or self.rounds < 1 or self.segment_length < 1:
            raise ValueError("label_budget, rounds and segment_length must be >= 1")
        if not 0.0 < self.initial_label_fraction <= 1.0:
            raise ValueError("initial_label_fraction must be in (0, 1]")
        if not 0.0 <= self.heldout_fraction < 1.0:
            raise ValueError("heldout_fraction must be in [0, 1)")
        if not (0.0 <= self.exploration_correlation < 1.0 and 0 <= self.explored_fraction <= 1):
            raise ValueError(
                "exploration_correlation must be in [0, 1), explored_fraction in [0, 1]"
            )
        if self.segments_per_label < 1.0 or self.candidate_factor < 1:
            raise ValueError("segments_per_label and candidate_factor must be >= 1")
        if self.episodes_per_start < 1:
            raise ValueError("episodes_per_start must be >= 1")
        if self.pairing == "same_start" and self.episodes_per_start < 2:
            raise ValueError("pairing 'same_start' needs episodes_per_start >= 2")
        if (self.human_labels is None) != (self.segments_file is None):
            raise ValueError("human_labels and segments_file go together")
        if self.oracle == "human" and self.human_labels is not None:
            raise ValueError("oracle 'human' asks each round; human_labels reads a file: not both")
        if self.quorum < 1 or (self.label_timeout_s is not None and self.label_timeout_s <= 0):
            raise ValueError("quorum must be >= 1 and label_timeout_s > 0 (or null)")


@dataclass
class RewardModelConfig:
    """The trajectory reward model and how it is fitted each round."""

    hidden: tuple[int, ...] = (64, 64)
    """hidden widths of each ensemble member"""
    ensemble_size: int = 3
    """members; their disagreement drives 'uncertainty' selection"""
    learning_rate: float = 1e-3
    """Adam step size"""
    weight_decay: float = 0.0
    """Adam L2 penalty"""
    epochs: int = 20
    """passes over all labels so far, each round (the model is kept between rounds)"""
    batch_size: int = 64
    """labelled pairs per step"""
    bootstrap: bool = True
    """each member fits its own resample of the labels"""
    refresh_normalization: bool = True
    """re-standardise the inputs over the whole pool each round (else: the first round's)"""
    observation_indices: tuple[int, ...] | None = None
    """the observation entries the model reads (with the whole action); None: all of them"""


@dataclass
class PrefsConfig:
    """A preference-learning run: the PPO pieces of ContinuousConfig plus labels and model."""

    env: EnvConfig = field(default_factory=EnvConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    run: RunConfig = field(default_factory=RunConfig)
    prefs: PreferenceConfig = field(default_factory=PreferenceConfig)
    reward_model: RewardModelConfig = field(default_factory=RewardModelConfig)
    run_dir: str = "runs/arm-prefs"
    """TensorBoard logs, per-round artefacts, segments, labels and configs go here"""

    def continuous(self) -> ContinuousConfig:
        """The PPO part, as saved for ``rlhf-gym arm eval|video``."""
        return ContinuousConfig(self.env, self.policy, self.ppo, self.run, self.run_dir)
