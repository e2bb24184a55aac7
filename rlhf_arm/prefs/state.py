"""What a preference run keeps: its checkpoint (one per finished round, in the format of
every run, :mod:`agents.checkpoint`) and each round's artefacts, all without pickle.

``RUN/checkpoint.json`` names the latest round's checkpoint; its parts hold the policy and
optimiser under the same names as an ``arm train`` run's, so ``rlhf-gym arm eval|video``
read a preference run as they read any other. Per round, ``rounds/round_NN/`` gets the
reward model (``reward_model.safetensors``), its numpy export for the env
(``reward_fn.npz``, :func:`load_numpy_reward`) and the policy (``policy.safetensors``).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors.torch import save_file

from agents.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from agents.train import OptimizerParts
from rlhf_arm.prefs.labels import Preferences, write_labels
from rlhf_arm.prefs.reward_model import NumpyReward
from rlhf_arm.prefs.segments import SegmentPool

if TYPE_CHECKING:
    from rlhf_arm.prefs.loop import PreferenceLoop


def _dataclass_tree(value: Any) -> dict[str, Any]:
    return {f.name: getattr(value, f.name) for f in fields(value)}


def _policy_parts(loop: PreferenceLoop) -> OptimizerParts:
    return OptimizerParts(loop.policy, loop.optimizer, loop.config.run)


def save_state(loop: PreferenceLoop) -> None:
    """One checkpoint of everything the rounds after ``next_round - 1`` depend on."""
    tree = {
        "next_round": loop.next_round,
        "history": loop.history,
        "model": loop.model.state_dict(),
        "rm_optimizer": loop.rm_optimizer.state_dict(),
        "rng": loop.rng.bit_generator.state,
        "generator": loop.generator.get_state(),
        "global_rng": capture_rng(),
        "pool": _dataclass_tree(loop.pool),
        "train_labels": _dataclass_tree(loop.train_labels),
        "heldout_labels": _dataclass_tree(loop.heldout_labels),
        "counters": [loop.global_step, loop.ppo_iterations, loop.fitted],
    }
    save_checkpoint(loop.run_dir, loop.next_round, tree, {"parts": _policy_parts(loop)})


def restore_state(loop: PreferenceLoop) -> None:
    """Continue from the last saved round: the same result as a run never stopped."""
    tree = load_checkpoint(loop.run_dir, {"parts": _policy_parts(loop)})
    loop.next_round, loop.history = int(tree["next_round"]), tree["history"]
    loop.model.load_state_dict(tree["model"])
    loop.rm_optimizer.load_state_dict(tree["rm_optimizer"])
    loop.rng.bit_generator.state = tree["rng"]
    loop.generator.set_state(tree["generator"])
    restore_rng(tree["global_rng"])
    loop.pool = SegmentPool(**tree["pool"])
    loop.train_labels = Preferences(**tree["train_labels"])
    loop.heldout_labels = Preferences(**tree["heldout_labels"])
    global_step, ppo_iterations, fitted = tree["counters"]
    loop.global_step, loop.ppo_iterations, loop.fitted = global_step, ppo_iterations, fitted


def save_round(loop: PreferenceLoop, round_index: int, reward_fn: NumpyReward) -> None:
    """The round's reward model (torch and numpy) and policy; the segments and all labels
    (with a ``heldout`` flag) so far; then the run's checkpoint."""
    folder = loop.run_dir / "rounds" / f"round_{round_index:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    save_file(_plain(loop.model.state_dict()), str(folder / "reward_model.safetensors"))
    save_numpy_reward(reward_fn, folder / "reward_fn.npz")
    save_file(_plain(loop.policy.state_dict()), str(folder / "policy.safetensors"))
    if loop.config.prefs.human_labels is None:
        loop.pool.save(loop.run_dir / "segments.npz")
        write_labels(
            loop.run_dir / "labels.jsonl",
            loop.train_labels + loop.heldout_labels,
            loop.pool.ids,
            heldout=np.arange(loop.labels_used) >= len(loop.train_labels),
        )
    save_state(loop)


def _plain(state: dict[str, Any]) -> dict[str, Any]:
    # safetensors refuses views sharing one buffer (the flat parameter's)
    return {key: value.detach().contiguous().clone() for key, value in state.items()}


def save_numpy_reward(reward: NumpyReward, path: Path) -> None:
    """The exported reward as arrays (``W0, b0, W1, b1, ...`` and the slope)."""
    arrays = {f"W{i}": w for i, w in enumerate(reward.weights)}
    arrays.update({f"b{i}": b for i, b in enumerate(reward.biases)})
    np.savez(path, negative_slope=np.float64(reward.negative_slope), **arrays)


def load_numpy_reward(path: str | Path) -> NumpyReward:
    """Read what :func:`save_numpy_reward` wrote (no pickle: ``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as data:
        layers = sum(1 for key in data.files if key.startswith("W"))
        weights = [data[f"W{i}"] for i in range(layers)]
        biases = [data[f"b{i}"] for i in range(layers)]
        return NumpyReward(weights, biases, float(data["negative_slope"]))
