"""Reward learning from trajectory preferences on the arm (Christiano et al. 2017).

- `segments`: clips of the policy's episodes, and the ``segments.npz`` a labeller sees.
- `labels`: the synthetic oracle and the JSONL human-label file.
- `reward_model`: the ensemble r(o, a), its pairwise fit, and its numpy export for the env.
- `config`: `PrefsConfig`, the PPO pieces of `ContinuousConfig` plus labels and model.
- `loop`: `train_prefs`, the collect -> label -> fit -> PPO rounds.
"""

from rlhf_arm.prefs.config import PreferenceConfig, PrefsConfig, RewardModelConfig
from rlhf_arm.prefs.labels import Preferences, oracle_preferences, read_labels, write_labels
from rlhf_arm.prefs.loop import PrefsResult, train_prefs
from rlhf_arm.prefs.pairs import label_schedule
from rlhf_arm.prefs.reward_model import (
    NumpyReward,
    TrajectoryRewardModel,
    evaluate_reward_model,
    export_numpy,
    fit_reward_model,
    preference_variance,
    soft_pairwise_loss,
)
from rlhf_arm.prefs.segments import SegmentPool, collect_segments

__all__ = [
    "NumpyReward",
    "PreferenceConfig",
    "Preferences",
    "PrefsConfig",
    "PrefsResult",
    "RewardModelConfig",
    "SegmentPool",
    "TrajectoryRewardModel",
    "collect_segments",
    "evaluate_reward_model",
    "export_numpy",
    "fit_reward_model",
    "label_schedule",
    "oracle_preferences",
    "preference_variance",
    "read_labels",
    "soft_pairwise_loss",
    "train_prefs",
    "write_labels",
]
