"""Online pairs for human labelling: two sampled answers of the current model per prompt.

The text world's side of the labelling app's online rounds (``rlhf_gym.label``): the actor
of the moment (an SFT or PPO output directory) answers each prompt twice by sampling, and a
person says which answer is better. Only ``transformers`` and this package's model loaders
are used, so any causal LM directory works.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

# the labelling folder's file names, reader, append and wait are the core's, shared with the
# arm world's human oracle and the app
from agents.label_folder import (
    LABELS_FILE,
    PAIRS_FILE,
    append_records,
    read_records,
    wait_until_settled,
)
from rlhf_text.models import ModelConfig, load_causal_lm, load_tokenizer
from rlhf_text.pipeline import PipelineConfig


@torch.no_grad()
def sample_answer_pairs(
    model: str,
    prompts: Sequence[str],
    seed: int = 0,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    batch_size: int = 8,
    max_tries: int = 3,
) -> list[tuple[str, str, str]]:
    """``(prompt, answer_a, answer_b)`` for each prompt, two samples of ``model``.

    Args:
        model: a causal LM directory (``save_pretrained``) or hub name, with its tokenizer.
        prompts: the prompts, as the model was trained on them.
        seed: seeds the sampling (the same seed gives the same pairs).
        max_new_tokens: most tokens per answer.
        temperature: sampling temperature (1: the model's own distribution).
        batch_size: prompts per ``generate`` call.
        max_tries: a prompt whose two answers come out the same (or empty) is sampled again
            this many times, then dropped (nothing to compare).

    Returns:
        The triples, in prompt order, without the dropped prompts.
    """
    config = ModelConfig(name_or_path=model)
    tokenizer = load_tokenizer(config)
    lm = load_causal_lm(config, tokenizer, seed=seed).eval()
    generator_seed = seed
    pending, answers = list(prompts), {}
    for _ in range(max_tries):
        if not pending:
            break
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            torch.manual_seed(generator_seed)
            generator_seed += 1
            encoded = tokenizer(list(batch) * 2, return_tensors="pt", padding=True)
            output = lm.generate(
                **encoded,
                do_sample=True,
                temperature=temperature,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
            )  # (2B, T_prompt + T_new): the batch twice, so two samples per prompt
            texts = tokenizer.batch_decode(
                output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True
            )
            for index, prompt in enumerate(batch):
                first, second = texts[index], texts[index + len(batch)]
                if first.strip() and second.strip() and first.strip() != second.strip():
                    answers[prompt] = (first, second)
        pending = [prompt for prompt in pending if prompt not in answers]
    return [(prompt, *answers[prompt]) for prompt in prompts if prompt in answers]


# -- online rounds: sample, ask people, refit the reward model, continue PPO ----------------

ACCURACY_FILE, STATE_FILE = "rm_accuracy.json", "online_state.json"


@dataclass
class OnlineConfig:
    """Online rounds of the text world with people labelling (``rlhf-gym label FOLDER
    --text-online CONFIG``)."""

    rounds: int = 3
    """sample -> label -> reward model -> PPO rounds"""
    pairs_per_round: int = 16
    """prompts answered twice by the current actor and shown to people, per round"""
    label_folder: str = "{run_dir}/online/label"
    """the labelling folder the app serves (``pairs.jsonl`` in, ``labels.jsonl`` out)"""
    quorum: int = 1
    """labellers per pair (labelled or skipped) before it is settled"""
    label_timeout_s: float | None = None
    """go on after this many seconds per round with the labels so far (None: wait for all;
    before the first label, wait for one)"""
    ppo_iterations: int = 5
    """PPO iterations per round, against that round's reward model"""
    max_new_tokens: int = 32
    """most tokens per sampled answer"""
    temperature: float = 1.0
    """sampling temperature of the answers people compare"""

    def __post_init__(self) -> None:
        if min(self.rounds, self.pairs_per_round, self.quorum, self.ppo_iterations) < 1:
            raise ValueError("rounds, pairs_per_round, quorum and ppo_iterations must be >= 1")
        if self.label_timeout_s is not None and self.label_timeout_s <= 0:
            raise ValueError("label_timeout_s must be > 0 or null")


@dataclass
class OnlineTextConfig(PipelineConfig):
    """A text pipeline config (``configs/text/*.yaml``) plus its online rounds."""

    online: OnlineConfig = field(default_factory=OnlineConfig)


def queue_pairs(folder: Path, round_index: int, triples: list[tuple[str, str, str]]) -> list[str]:
    """Appends the round's pairs to ``pairs.jsonl`` (the app's queue; sides shuffled by a
    seeded draw) unless a resumed round did; returns their ids."""
    rng = random.Random(round_index)
    entries = []
    for index, (prompt, first, second) in enumerate(triples):
        left, right = (first, second) if rng.random() < 0.5 else (second, first)
        pair = f"o{round_index:02d}-p{index:04d}"
        entries.append({"pair": pair, "prompt": prompt, "left": left, "right": right})
    queued = {e["pair"]: e for e in read_records(folder / PAIRS_FILE)}
    for entry in entries:
        if entry["pair"] in queued and queued[entry["pair"]] != entry:
            raise ValueError(
                f"{folder / PAIRS_FILE}: pair {entry['pair']} differs from this run's; use a "
                "fresh labelling folder for a fresh run"
            )
    append_records(folder / PAIRS_FILE, [e for e in entries if e["pair"] not in queued])
    return [entry["pair"] for entry in entries]


def wait_for_labels(
    folder: Path,
    pair_ids: list[str],
    quorum: int,
    timeout_s: float | None,
    min_labelled: int = 0,
    poll_s: float = 1.0,
) -> int:
    """Waits until every pair has ``quorum`` decisions (labels or skips), or the timeout
    passes with at least ``min_labelled`` pairs labelled; returns the pairs labelled."""
    tally = wait_until_settled(folder, pair_ids, quorum, timeout_s, min_labelled, poll_s)
    return tally.labelled


def run_online(config: OnlineTextConfig, resume: bool = True) -> list[dict[str, float]]:
    """Online rounds: the actor answers, people label, the reward model refits on every
    human label so far, PPO continues from the last actor and critic.

    The first actor is ``ppo.actor`` (the SFT model); the first reward model starts from
    ``rm.run_dir`` if ``text rm`` wrote one, else from ``rm.model``; KL stays anchored to the
    first actor. Round ``r`` writes ``RUN/online/round_rr/{rm,ppo}``; each step resumes from
    its own checkpoint, and ``online_state.json`` records finished rounds, so running the same
    command again continues where it stopped, keeping the labels given.

    Returns:
        Per round: labels so far, the reward model's accuracy on them, PPO's last metrics.
    """
    from rlhf_text.data import DataConfig, PreferencePair, load_preference_data
    from rlhf_text.pipeline import resolve
    from rlhf_text.ppo_trainer import run_ppo
    from rlhf_text.reward_model import evaluate_reward_model, run_reward_model

    online = config.online
    pipeline = resolve(
        PipelineConfig(**{f.name: getattr(config, f.name) for f in fields(PipelineConfig)})
    )
    root = Path(pipeline.run_dir) / "online"
    folder = Path(online.label_folder.replace("{run_dir}", pipeline.run_dir))
    state_path = root / STATE_FILE
    state = {"next_round": 0, "history": []}
    if resume and state_path.is_file():
        state = json.loads(state_path.read_text(encoding="utf-8"))
    first_actor = pipeline.ppo.actor.name_or_path
    prompts = list(dict.fromkeys(p.prompt for p in load_preference_data(pipeline.data).train))
    for r in range(state["next_round"], online.rounds):
        previous = root / f"round_{r - 1:02d}"
        actor = str(previous / "ppo" / "actor") if r else first_actor
        start = r * online.pairs_per_round
        chosen = [prompts[(start + i) % len(prompts)] for i in range(online.pairs_per_round)]
        triples = sample_answer_pairs(
            actor, chosen, pipeline.ppo.seed + r, online.max_new_tokens, online.temperature
        )
        pair_ids = queue_pairs(folder, r, triples)
        # the reward model's data needs two prompts: one to train on, one held out
        ours = set(pair_ids)
        before = sum(x.get("pair") not in ours for x in read_records(folder / LABELS_FILE))
        need = max(0, 2 - before)
        wait_for_labels(folder, pair_ids, online.quorum, online.label_timeout_s, need)
        rm_dir = root / f"round_{r:02d}" / "rm"
        rm_model = pipeline.rm.model
        start_rm = previous / "rm" if r else Path(pipeline.rm.run_dir)
        if (start_rm / "config.json").is_file():  # refit the last reward model
            rm_model = replace(rm_model, name_or_path=str(start_rm), tiny=None, tokenizer=None)
        # a tenth of the prompts (at least one) held out: run_reward_model needs eval pairs
        data = DataConfig(source=str(folder / LABELS_FILE), eval_fraction=0.1)
        rm_metrics = run_reward_model(
            replace(pipeline.rm, model=rm_model, data=data, run_dir=str(rm_dir)), resume=True
        )
        labels = [PreferencePair(x["prompt"], x["chosen"], x["rejected"])
                  for x in read_records(folder / LABELS_FILE)]  # fmt: skip
        accuracy = evaluate_reward_model(str(rm_dir), labels, max_length=pipeline.rm.max_len)[
            "accuracy"
        ]
        _write_json(folder / ACCURACY_FILE, {
            "source": f"text online, round {r}", "labels": len(labels),
            "accuracy": accuracy, "time": time.time(),
        })  # fmt: skip
        critic = str(previous / "ppo" / "critic") if r else str(rm_dir)
        ppo = replace(
            pipeline.ppo,
            actor=replace(pipeline.ppo.actor, name_or_path=actor),
            reference=pipeline.ppo.reference
            or replace(pipeline.ppo.actor, name_or_path=first_actor),
            critic=ModelConfig(name_or_path=critic),
            reward={**_reward_spec(pipeline.ppo.reward), "model": str(rm_dir)},
            iterations=online.ppo_iterations,
            run_dir=str(root / f"round_{r:02d}" / "ppo"),
        )
        history = run_ppo(ppo, resume=True)
        last = history[-1] if history else {}
        state["history"].append({
            "round": r, "labels": len(labels), "rm/accuracy_human": accuracy,
            "rm/accuracy_heldout": rm_metrics.get("eval/accuracy"),
            **{k: v for k, v in last.items() if k.startswith(("objective/", "loss/", "judge/"))},
        })  # fmt: skip
        state["next_round"] = r + 1
        _write_json(state_path, state)
    return state["history"]


def _reward_spec(reward: Any) -> dict[str, Any]:
    """The PPO reward spec with the reward model's entry (a plain reward-model spec)."""
    if isinstance(reward, dict) and reward.get("type") == "reward_model":
        return dict(reward)
    return {"type": "reward_model"}


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(value), encoding="utf-8")
    os.replace(temporary, path)
