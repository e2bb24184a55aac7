"""Collection, the update and the loop on a tiny continuous env: learning, determinism, resume."""

import signal

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents import (
    GaussianActorCritic,
    PPOConfig,
    RunConfig,
    collect_rollout,
    compute_gae,
    ppo_update,
    start_collection,
    train,
)
from agents.checkpoint import env_snapshot, read_checkpoint
from tests.agents.toy_envs import make_point_env

PPO = PPOConfig(update_epochs=4, num_minibatches=4)


def _setup(seed=0, num_envs=4):
    torch.manual_seed(seed)
    env = make_point_env(num_envs)
    policy = GaussianActorCritic(4, 2, hidden=(32, 32))
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3, eps=1e-5)
    return env, policy, optimizer


def _run(total, seed=0, run_dir=None, stop_after=None, resume=True):
    env, policy, optimizer = _setup(seed)
    cfg = RunConfig(
        total_timesteps=total,
        num_steps=32,
        learning_rate=3e-3,
        seed=seed,
        checkpoint_every=2,
        progress=False,
    )
    result = train(env, policy, optimizer, PPO, cfg, run_dir, resume=resume, stop_after=stop_after)
    return policy, result


def _params(policy):
    return torch.cat([p.detach().flatten() for p in policy.state_dict().values()])


def test_next_step_autoreset_masks_the_reset_step_and_bootstraps_final_obs():
    env, policy, _ = _setup(num_envs=2)
    state = start_collection(env, seed=0)
    batch, _, episodes = collect_rollout(env, policy, 45, state)  # episodes of 20 steps
    assert batch.shape == (2, 45)
    # steps 0-19 real (19 truncated), 20 is the reset step, 21-40 real, 41 reset ...
    for row in range(2):
        assert batch.mask[row, 20] == 0 and batch.mask[row, 41] == 0
        assert batch.truncated[row, 19] and batch.truncated[row, 40]
        assert batch.mask[row].sum() == 43
        # V(final obs): the policy acted on the final observation at the reset step
        final_value = policy.value(batch.observations[row, 20][None])[0]
        torch.testing.assert_close(batch.next_values[row, 19], final_value)
        assert batch.rewards[row, 20] == 0
    assert len(episodes.returns) == 4 and episodes.lengths == [20] * 4
    assert "rollout/final_distance" in episodes.summary()


def test_same_step_autoreset_gives_the_same_transitions():
    torch.manual_seed(0)
    policy = GaussianActorCritic(4, 2, hidden=(16,))
    batches = {}
    for mode in ("NextStep", "SameStep"):
        env = make_point_env(1, autoreset_mode=mode)
        torch.manual_seed(1)
        batch, _, _ = collect_rollout(env, policy, 42, start_collection(env, seed=3))
        batches[mode] = batch
    nxt, same = batches["NextStep"], batches["SameStep"]
    assert int(nxt.mask.sum()) == 40 and bool((same.mask > 0).all())
    # The first episode (20 steps) is identical, including V(final obs) at the truncation;
    # after it NEXT_STEP's reset step draws one more action, so the samples diverge.
    for field in ("observations", "actions", "rewards", "truncated", "next_values"):
        torch.testing.assert_close(getattr(nxt, field)[0, :20], getattr(same, field)[0, :20])
    assert same.truncated[0, 19] and not same.truncated[0, 18]


def test_ppo_update_metrics_and_first_minibatch_ratio_is_one():
    env, policy, optimizer = _setup()
    batch, _, _ = collect_rollout(env, policy, 32, start_collection(env, seed=0))
    batch.advantages, batch.returns = compute_gae(
        batch.rewards,
        batch.values,
        batch.next_values,
        batch.terminated,
        batch.truncated,
        batch.mask,
    )
    cfg = PPOConfig(update_epochs=1, num_minibatches=1)
    metrics = ppo_update(policy, optimizer, batch, cfg, torch.Generator().manual_seed(0))
    # one minibatch: evaluated before the step, so exactly on-policy
    assert metrics["policy/approx_kl"] == pytest.approx(0.0, abs=1e-7)
    assert metrics["policy/clipfrac"] == 0.0
    for key in (
        "loss/policy",
        "loss/value",
        "loss/entropy",
        "policy/explained_variance",
        "train/grad_norm",
    ):
        assert np.isfinite(metrics[key])


def test_target_kl_stops_early():
    env, policy, optimizer = _setup()
    for group in optimizer.param_groups:
        group["lr"] = 0.05  # big steps so the KL grows fast
    batch, _, _ = collect_rollout(env, policy, 32, start_collection(env, seed=0))
    batch.advantages, batch.returns = compute_gae(
        batch.rewards,
        batch.values,
        batch.next_values,
        batch.terminated,
        batch.truncated,
        batch.mask,
    )
    metrics = ppo_update(
        policy,
        optimizer,
        batch,
        PPOConfig(update_epochs=10, target_kl=1e-4),
        torch.Generator().manual_seed(0),
    )
    assert metrics["train/epochs"] < 10


def test_learns_point_goal():
    policy, result = _run(total=24_000, seed=0)
    first, last = result.history[0], result.history[-1]
    # a random policy ends ~0.8 from the goal; a trained one gets close and stays
    assert last["rollout/final_distance"] < 0.25 < first["rollout/final_distance"]
    assert last["rollout/ep_return"] > first["rollout/ep_return"] + 5


def test_same_seed_same_parameters():
    a, _ = _run(total=2048, seed=3)
    b, _ = _run(total=2048, seed=3)
    c, _ = _run(total=2048, seed=4)
    assert torch.equal(_params(a), _params(b))
    assert not torch.equal(_params(a), _params(c))


def test_save_load_gives_identical_deterministic_actions(tmp_path):
    policy, _ = _run(total=1024, seed=0, run_dir=tmp_path)
    payload = read_checkpoint(tmp_path)["parts"]["parts"]
    restored = GaussianActorCritic(4, 2, hidden=(32, 32))
    restored.load_state_dict(payload["policy"])
    obs = torch.randn(64, 4) * 3
    assert torch.equal(
        policy.act(obs, deterministic=True).actions, restored.act(obs, deterministic=True).actions
    )
    # the observation normaliser is part of the checkpoint, not at its initial values
    assert not torch.equal(restored.normalizer.mean, torch.zeros(4, dtype=torch.float64))


def test_stopped_and_resumed_run_ends_identical(tmp_path):
    full, full_result = _run(total=4096, seed=5)
    # 4096 / (4 envs * 32 steps) = 32 iterations; stop after 5 (checkpoint at 4), i.e. lose one
    _run(total=4096, seed=5, run_dir=tmp_path, stop_after=5)
    assert read_checkpoint(tmp_path)["loop"]["iteration"] == 5
    resumed, resumed_result = _run(total=4096, seed=5, run_dir=tmp_path)
    assert resumed_result.global_step == full_result.global_step
    assert torch.equal(_params(full), _params(resumed))


def test_checkpoint_on_ctrl_c(tmp_path):
    env, policy, optimizer = _setup()
    cfg = RunConfig(total_timesteps=4096, num_steps=32, checkpoint_every=100, progress=False)

    def interrupt(iteration, metrics):
        if iteration == 3:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C: the loop saves iteration 3 and stops

    with pytest.raises(KeyboardInterrupt):
        train(env, policy, optimizer, PPO, cfg, tmp_path, on_iteration=interrupt)
    assert read_checkpoint(tmp_path)["loop"]["iteration"] == 3


def test_env_without_snapshot_resumes_from_a_seeded_reset(tmp_path):
    _run(total=1024, seed=0, run_dir=tmp_path, stop_after=2)
    env = gym.vector.SyncVectorEnv(
        [lambda: gym.wrappers.TimeLimit(gym.make("MountainCarContinuous-v0").unwrapped, 20)] * 4
    )
    assert env_snapshot(env) is None


def test_resume_with_an_optimiser_of_another_layout_says_to_start_afresh(tmp_path):
    from agents.flat import flatten_parameters

    _run(total=1024, seed=0, run_dir=tmp_path, stop_after=1)  # one tensor per parameter
    env, policy, _ = _setup()
    flat_optimizer = torch.optim.Adam([flatten_parameters(policy)], lr=3e-3, eps=1e-5)
    cfg = RunConfig(total_timesteps=1024, num_steps=32, progress=False)
    with pytest.raises(ValueError, match=r"the saved optimiser state .*--fresh"):
        train(env, policy, flat_optimizer, PPO, cfg, tmp_path)


def test_cpu_threads_puts_back_the_callers_counts_even_on_error():
    from threadpoolctl import threadpool_info, threadpool_limits

    from agents.train import cpu_threads

    def blas_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    torch_before = torch.get_num_threads()
    with threadpool_limits(2, user_api="blas"):
        torch.set_num_threads(2)
        with pytest.raises(RuntimeError, match="inside"), cpu_threads(1):
            assert torch.get_num_threads() == 1 and set(blas_threads()) == {1}
            raise RuntimeError("inside")
        assert torch.get_num_threads() == 2 and set(blas_threads()) == {2}
    torch.set_num_threads(torch_before)


def test_training_leaves_the_processs_thread_count_as_it_found_it(tmp_path):
    """The demo trains the arm on 1 thread, then its language models in the same process:
    they must get every core back."""
    torch_before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _run(total=256, seed=0, run_dir=tmp_path, stop_after=1)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(torch_before)


def test_limit_cpu_threads_sets_torchs_and_blas_threads():
    from threadpoolctl import threadpool_info, threadpool_limits

    from agents.train import limit_cpu_threads

    torch_before = torch.get_num_threads()
    with threadpool_limits(2, user_api="blas"):  # restores numpy's BLAS threads afterwards
        limit_cpu_threads(1)
        assert torch.get_num_threads() == 1
        blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert blas and all(pool["num_threads"] == 1 for pool in blas)
    torch.set_num_threads(torch_before)
    with pytest.raises(ValueError, match="torch_threads must be >= 1"):
        limit_cpu_threads(0)


def test_only_rank_0_writes_logs(tmp_path, monkeypatch):
    """Every rank of a multi-process run logs the same numbers: one copy, from rank 0."""
    from agents import ranks

    monkeypatch.setattr(ranks, "rank", lambda: 1)
    _run(total=256, seed=0, run_dir=tmp_path, stop_after=1)
    assert not (tmp_path / "metrics.jsonl").exists() and not (tmp_path / "tb").exists()
    monkeypatch.setattr(ranks, "rank", lambda: 0)
    _run(total=256, seed=0, run_dir=tmp_path / "main", stop_after=1)
    assert (tmp_path / "main" / "metrics.jsonl").read_text() and any(
        (tmp_path / "main" / "tb").iterdir()
    )
