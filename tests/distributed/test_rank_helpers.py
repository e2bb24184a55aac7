"""What several ranks need, checked in one process: batch shares, the checkpoint's rank count."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.checkpoint import CheckpointError
from rlhf_text.deepspeed_config import check_checkpoint_ranks, checkpoint_world_size, rank_share


def test_a_global_batch_is_shared_out_without_overlap() -> None:
    batch = [7, 3, 9, 1, 4, 8]
    shares = [rank_share(batch, rank, 2) for rank in range(2)]
    assert shares == [[7, 9, 4], [3, 1, 8]]
    assert rank_share([5], 0, 1) == [5]
    with pytest.raises(ValueError, match="cannot be shared by 2 ranks"):
        rank_share([5], 1, 2)


def _zero_checkpoint(directory: Path, ranks: int, prefix: str = "") -> Path:
    tag = directory / "global_step3"
    tag.mkdir(parents=True)
    (directory / "latest").write_text("global_step3")
    for rank in range(ranks):
        (tag / f"{prefix}zero_pp_rank_{rank}_mp_rank_00_optim_states.pt").touch()
        (tag / f"zero_pp_rank_{rank}_mp_rank_00_model_states.pt").touch()
    return directory


def test_a_checkpoint_of_two_ranks_is_refused_on_one_in_one_line(tmp_path: Path) -> None:
    two = _zero_checkpoint(tmp_path / "two", 2)
    assert checkpoint_world_size(two) == 2
    check_checkpoint_ranks(two, 2)
    with pytest.raises(CheckpointError, match="ZeRO shards of 2 ranks but this run has 1") as err:
        check_checkpoint_ranks(two, 1)
    assert "\n" not in str(err.value)
    # ZeRO-3 with bf16 prefixes its shards; stage 0 writes none (any world loads it)
    assert checkpoint_world_size(_zero_checkpoint(tmp_path / "bf16", 4, "bf16_")) == 4
    assert checkpoint_world_size(_zero_checkpoint(tmp_path / "stage0", 0)) is None
    assert checkpoint_world_size(tmp_path / "empty") is None


def test_rank_helpers_in_a_world_of_one(monkeypatch) -> None:
    # the multi-rank behaviour runs in test_deepspeed_ranks.py (gather, all_true, shards)
    from agents import ranks

    assert ranks.shard([0, 1, 2, 3, 4, 5, 6], 1, 3) == [1, 4]
    whole = [f"row {i}" for i in range(6)]
    assert ranks.gather_rows(whole) == whole
    assert ranks.all_true(True) and not ranks.all_true(False)
    monkeypatch.setenv("RANK", "1")
    assert not ranks.is_main()  # no process group yet: the launcher's RANK decides
    monkeypatch.delenv("RANK")
    assert ranks.is_main()


def test_episode_logs_of_several_ranks_merge_into_one() -> None:
    from agents.collect import EpisodeLog

    a = EpisodeLog([1.0, 2.0], [3, 4], {"is_success": [1.0, 0.0]})
    b = EpisodeLog([6.0], [5], {"is_success": [1.0], "distance": [0.1]})
    merged = EpisodeLog.merged([a, b])
    assert merged.returns == [1.0, 2.0, 6.0] and merged.lengths == [3, 4, 5]
    assert merged.final_info == {"is_success": [1.0, 0.0, 1.0], "distance": [0.1]}
    assert merged.summary()["rollout/ep_return"] == 3.0 and a.returns == [1.0, 2.0]
    assert a.over_ranks() is a  # a world of one: nothing to gather


def test_ppo_takes_its_share_of_the_batch_or_says_in_one_line_why_not(monkeypatch) -> None:
    from rlhf_text import ppo_models
    from rlhf_text.ppo_config import PPOTextConfig

    monkeypatch.setattr(ppo_models, "init_distributed", lambda: None)  # a world of 2, faked
    monkeypatch.setattr(ppo_models.ranks, "world_size", lambda: 2)
    monkeypatch.setattr(ppo_models.ranks, "rank", lambda: 1)
    deepspeed = {"zero_optimization": {"stage": 2}}
    assert ppo_models.batch_shard(PPOTextConfig(batch_size=6, deepspeed=deepspeed)) == (1, 2)
    assert ppo_models.batch_shard(PPOTextConfig(batch_size=5)) == (0, 1)  # no DeepSpeed
    for bad, message in (
        ({"batch_size": 5}, "ppo.batch_size=5 cannot be shared out by 2 ranks"),
        ({"unsup_coef": 0.1, "unsup_batch_size": 1}, "ppo.unsup_batch_size=1 cannot be"),
    ):
        config = PPOTextConfig(**{"batch_size": 4, **bad}, deepspeed=deepspeed)
        with pytest.raises(ValueError, match=message) as err:
            ppo_models.batch_shard(config)
        assert "\n" not in str(err.value)
