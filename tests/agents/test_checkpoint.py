"""The checkpoint tree: what goes in comes back, RNGs included, without pickle."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.checkpoint import capture_rng, read_tree, restore_rng, write_tree


def test_a_tree_comes_back_as_it_went_in(tmp_path: Path) -> None:
    tree = {
        "ints_as_keys": {0: {"step": torch.tensor(3.0)}, 1: {"exp_avg": torch.ones(2, 3)}},
        "tuple": (1, 2.5, None, "x"),
        "bytes": b"\x00\xff",
        "array": np.arange(5, dtype=np.uint32),
        "flags": np.array([True, False]),
        "scalar": np.float64(0.25),
        "big_int": 2**100 + 1,  # a PCG64 state
        "__looks_like_a_tag": [1, 2],
        "nan": float("nan"),
    }
    write_tree(tmp_path, tree)
    back = read_tree(tmp_path)
    assert back["ints_as_keys"][0]["step"].item() == 3.0 and 1 in back["ints_as_keys"]
    assert back["tuple"] == (1, 2.5, None, "x") and back["bytes"] == b"\x00\xff"
    assert back["array"].dtype == np.uint32 and back["array"].tolist() == [0, 1, 2, 3, 4]
    assert back["flags"].dtype == bool and back["scalar"] == 0.25
    assert back["big_int"] == 2**100 + 1 and back["__looks_like_a_tag"] == [1, 2]
    assert np.isnan(back["nan"])
    assert not list(tmp_path.glob("*.pt")) and not list(tmp_path.glob("*.pkl"))


def test_views_of_one_buffer_are_stored_apart(tmp_path: Path) -> None:
    flat = torch.arange(6.0)
    write_tree(tmp_path, {"a": flat[:3], "b": flat[3:]})
    back = read_tree(tmp_path)
    assert back["a"].tolist() == [0.0, 1.0, 2.0] and back["b"].tolist() == [3.0, 4.0, 5.0]


def test_rng_states_survive_the_round_trip(tmp_path: Path) -> None:
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    write_tree(tmp_path, capture_rng())
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng(read_tree(tmp_path))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_cuda_rng_states_are_kept_where_there_is_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    states = [torch.tensor([1, 2, 3], dtype=torch.uint8)]
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: states)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.append)
    captured = capture_rng()
    assert captured["cuda"] is states
    restore_rng(captured)
    assert restored == [states]


class _RankFile:
    """A part that, like a DeepSpeed engine, writes a file of its own on every rank."""

    def checkpoint_state(self, directory: Path) -> dict:
        rank = torch.distributed.get_rank()
        (directory / f"shard{rank}.txt").write_text(str(rank))
        return {"rank": rank}

    def restore_checkpoint(self, directory: Path, state: dict) -> None:
        raise NotImplementedError


def _save_on_rank(rank: int, run_dir: str, port: int) -> None:
    from agents.checkpoint import save_checkpoint

    torch.distributed.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2
    )
    try:
        for step in (1, 2):
            folder = save_checkpoint(run_dir, step, {"step": step}, {"engine": _RankFile()})
            # every rank returns once the manifest names the whole folder
            assert sorted(p.name for p in (folder / "engine").iterdir()) == [
                "shard0.txt",
                "shard1.txt",
            ]
    finally:
        torch.distributed.destroy_process_group()


def test_two_ranks_write_one_checkpoint_together(tmp_path: Path) -> None:
    """Rank 0 names the folder and writes the tree and the manifest; each rank its shard."""
    import socket

    from agents.checkpoint import checkpoint_folder, load_checkpoint

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    torch.multiprocessing.spawn(_save_on_rank, args=(str(tmp_path), port), nprocs=2)
    step, folder = checkpoint_folder(tmp_path)
    assert step == 2 and len(list((tmp_path / "checkpoints").iterdir())) == 1
    assert load_checkpoint(tmp_path) == {"step": 2}
    assert sorted(p.name for p in (folder / "engine").iterdir()) == ["shard0.txt", "shard1.txt"]
