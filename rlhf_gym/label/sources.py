"""Filling a labelling folder's queue: text pairs from a data set or a model, arm clip pairs.

Each function appends to ``pairs.jsonl`` (:mod:`rlhf_gym.label.queue`) and returns how many
pairs it added. Which answer or clip is shown on the left is drawn at random (seeded), so a
labeller cannot learn a side.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_gym.label.clips import ENV_FILE
from rlhf_gym.label.queue import PAIRS_FILE, append_pairs, read_pairs


def _known(folder: Path) -> set[str]:
    path = folder / PAIRS_FILE
    return {entry["pair"] for entry in read_pairs(path)} if path.is_file() else set()


def text_entries(
    triples: list[tuple[str, str, str]], prefix: str, seed: int
) -> list[dict[str, Any]]:
    """Queue entries of ``(prompt, answer_a, answer_b)`` triples, sides shuffled."""
    rng = np.random.default_rng(seed)
    entries = []
    for index, (prompt, first, second) in enumerate(triples):
        left, right = (first, second) if rng.random() < 0.5 else (second, first)
        pair = f"{prefix}{index:06d}"
        entries.append({"pair": pair, "prompt": prompt, "left": left, "right": right})
    return entries


def add_text_from_data(folder: str | Path, source: str, limit: int, seed: int = 0) -> int:
    """Pairs of a preference data set (``text rm``'s ``data.source``: ``embedded``, a
    ``.jsonl``/``.json``/``.parquet`` file or a hub name), the first ``limit`` rows.

    The data's own chosen/rejected order is hidden: a person labels the pair afresh.
    """
    from rlhf_text.data import DataConfig, load_preference_data

    data = load_preference_data(DataConfig(source=source, eval_fraction=0.0, max_rows=limit))
    folder = Path(folder)
    prefix = f"t{len(_known(folder)):06d}-"  # a second batch never repeats an id
    triples = [(p.prompt, p.chosen, p.rejected) for p in data.train[:limit]]
    append_pairs(folder, text_entries(triples, prefix, seed))
    return len(triples)


def add_text_from_model(
    folder: str | Path, model: str, prompts_source: str, limit: int, seed: int = 0
) -> int:
    """Two sampled answers of a causal LM (an SFT or PPO actor directory) to each of the
    first ``limit`` prompts of a data set (:func:`rlhf_text.online.sample_answer_pairs`)."""
    from rlhf_text.data import DataConfig, load_preference_data
    from rlhf_text.online import sample_answer_pairs

    data = load_preference_data(DataConfig(source=prompts_source, eval_fraction=0.0))
    prompts = list(dict.fromkeys(p.prompt for p in data.train))[:limit]
    triples = sample_answer_pairs(model, prompts, seed=seed)
    folder = Path(folder)
    prefix = f"m{len(_known(folder)):06d}-"
    append_pairs(folder, text_entries(triples, prefix, seed))
    return len(triples)


def add_arm_from_segments(
    folder: str | Path,
    segments: str | Path,
    limit: int,
    seed: int = 0,
    env_spec: dict[str, Any] | None = None,
    pair_prefix: str | None = None,
) -> int:
    """Up to ``limit`` pairs of clips of a ``segments.npz``, copied into the folder.

    Pairs are two attempts at the same start and moment (same ``starts`` and ``windows``)
    where the file records repeated starts, else any two clips of the same window.

    Args:
        folder: the labelling folder.
        segments: the clips (``rlhf-gym arm prefs`` writes ``RUN/segments.npz``).
        limit: most pairs to add.
        seed: draws the pairs and their sides.
        env_spec: ``{"id", "kwargs"}`` of the env the clips came from (written to
            ``arm_env.json`` when given).
        pair_prefix: the pair ids' prefix (default: the segments file's stem).
    """
    from rlhf_arm.prefs.pairs import same_start_pairs
    from rlhf_arm.prefs.segments import SegmentPool

    folder, segments = Path(folder), Path(segments)
    folder.mkdir(parents=True, exist_ok=True)
    name = segments.name
    if segments.resolve() != (folder / name).resolve():
        shutil.copyfile(segments, folder / name)
    if env_spec is not None:
        (folder / ENV_FILE).write_text(json.dumps(env_spec), encoding="utf-8")
    pool = SegmentPool.load(folder / name)
    rows = np.arange(len(pool))
    starts = pool.starts if (pool.starts >= 0).any() else np.zeros(len(pool), np.int64)
    candidates = same_start_pairs(rows, starts, pool.windows)  # (P, 2)
    rng = np.random.default_rng(seed)
    chosen = candidates[rng.permutation(len(candidates))[:limit]]
    prefix = pair_prefix or f"{segments.stem}-p"
    entries = []
    for index, (i, j) in enumerate(chosen):
        left, right = (i, j) if rng.random() < 0.5 else (j, i)
        entries.append(
            {"pair": f"{prefix}{index:04d}", "segments": name,
             "left": pool.ids[left], "right": pool.ids[right]}
        )  # fmt: skip
    append_pairs(folder, entries)
    return len(entries)
