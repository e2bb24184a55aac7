"""The shared PPO core: knows nothing of text or arms.

Data flow: ``collect_rollout`` -> ``RolloutBatch [B, T]`` -> ``compute_gae`` ->
``ppo_update`` -> metrics dict; ``train`` loops over it with logging and checkpoints, for
both worlds: what a world adds (text's KL shaping and four models, the arm's normaliser)
comes in through a ``TrainParts`` object.
"""

from agents.collect import CollectState, EpisodeLog, collect_rollout, start_collection
from agents.gae import compute_gae
from agents.gaussian import GaussianActorCritic
from agents.losses import (
    PPOLossTerms,
    explained_variance,
    kl_penalty,
    masked_mean,
    masked_var,
    masked_whiten,
    ppo_losses,
)
from agents.policy import ActorCritic, ActOutput, EvalOutput
from agents.ppo import PPOConfig, Stepper, TorchStepper, ppo_update
from agents.preference import pairwise_loss, preference_metrics
from agents.rollout import RolloutBatch
from agents.train import OptimizerParts, RunConfig, TrainParts, TrainResult, train

__all__ = [
    "ActOutput",
    "ActorCritic",
    "CollectState",
    "EpisodeLog",
    "EvalOutput",
    "OptimizerParts",
    "GaussianActorCritic",
    "PPOConfig",
    "PPOLossTerms",
    "RolloutBatch",
    "RunConfig",
    "Stepper",
    "TorchStepper",
    "TrainParts",
    "TrainResult",
    "collect_rollout",
    "compute_gae",
    "explained_variance",
    "kl_penalty",
    "masked_mean",
    "masked_var",
    "masked_whiten",
    "ppo_losses",
    "pairwise_loss",
    "ppo_update",
    "preference_metrics",
    "start_collection",
    "train",
]
