"""ArmReachVectorEnv: the same results as SyncVectorEnv over single arms, bit for bit."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import envs
from agents.checkpoint import env_snapshot, restore_env_snapshot
from envs.arm_reach_vector import ArmReachVectorEnv

REWARD_FN = "tests.envs.test_arm_reach:negative_squared_distance"


def _pair(num_envs: int = 3, **kwargs) -> tuple[SyncVectorEnv, ArmReachVectorEnv]:
    sync = gymnasium.make_vec(
        envs.ARM_REACH_ID, num_envs=num_envs, vectorization_mode="sync", **kwargs
    )
    native = gymnasium.make_vec(envs.ARM_REACH_ID, num_envs=num_envs, **kwargs)
    return sync, native


def _assert_same_info(expected: dict, got: dict, where: str) -> None:
    assert set(expected) == set(got), f"{where}: info keys"
    for key, value in expected.items():
        assert value.dtype == got[key].dtype, f"{where}: info[{key!r}] dtype"
        np.testing.assert_array_equal(value, got[key], err_msg=f"{where}: info[{key!r}]")


def _assert_same_step(expected: tuple, got: tuple, where: str) -> None:
    for name, a, b in zip(
        ("obs", "reward", "terminated", "truncated"), expected[:4], got[:4], strict=True
    ):
        assert a.dtype == b.dtype, f"{where}: {name} dtype {a.dtype} != {b.dtype}"
        np.testing.assert_array_equal(a, b, err_msg=f"{where}: {name}")
    _assert_same_info(expected[4], got[4], where)


def test_make_vec_builds_the_native_env() -> None:
    env = gymnasium.make_vec(envs.ARM_REACH_ID, num_envs=2)
    assert isinstance(env, ArmReachVectorEnv)
    assert env.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert env.max_episode_steps == envs.ARM_REACH_MAX_EPISODE_STEPS
    assert env.observation_space.shape == (2, 24) and env.action_space.shape == (2, 5)
    env.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"control_mode": "torque", "success_bonus": 1.0, "success_threshold": 0.3},
        {"reward_fn": REWARD_FN},
    ],
    ids=["position", "torque-bonus", "reward_fn"],
)
def test_equals_sync_vector_env_through_autoresets(kwargs: dict) -> None:
    sync, native = _pair(**kwargs)
    (obs_sync, info_sync), (obs_native, info_native) = sync.reset(seed=11), native.reset(seed=11)
    np.testing.assert_array_equal(obs_sync, obs_native)
    _assert_same_info(info_sync, info_native, "reset")
    # stagger the episodes so that some arms reset while others step
    for i, elapsed in enumerate((0, 40, 99)):
        sync.envs[i]._elapsed_steps = elapsed  # the TimeLimit wrapper's counter
        native._elapsed[i] = elapsed
    rng = np.random.default_rng(0)
    resets = 0
    for t in range(230):
        actions = rng.uniform(-1, 1, size=(3, 5)).astype(np.float32)
        expected, got = sync.step(actions), native.step(actions)
        _assert_same_step(expected, got, f"step {t}")
        resets += int(expected[3].sum())
    assert resets >= 6  # every arm truncated at least twice, not all at once
    sync.close()
    native.close()


def test_reset_seeds_like_sync_and_checks_their_number() -> None:
    sync, native = _pair(num_envs=2)
    np.testing.assert_array_equal(sync.reset(seed=[4, 9])[0], native.reset(seed=[4, 9])[0])
    np.testing.assert_array_equal(sync.reset(seed=4)[0], native.reset(seed=4)[0])
    with pytest.raises(ValueError, match="3 seeds for 2 envs"):
        native.reset(seed=[1, 2, 3])


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.zeros((2, 4)), "shape"),
        (np.full((2, 5), np.nan), "NaN or inf"),
        (np.full((2, 5), np.inf), "NaN or inf"),
        (np.full((2, 5), 1.5), "outside the action space"),
        ([["a"] * 5] * 2, "numeric"),
    ],
)
def test_bad_actions_raise(actions, message: str) -> None:
    env = gymnasium.make_vec(envs.ARM_REACH_ID, num_envs=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(actions)


def test_step_before_reset_and_bad_arguments() -> None:
    env = ArmReachVectorEnv(num_envs=2)
    with pytest.raises(ResetNeeded):
        env.step(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="num_envs"):
        ArmReachVectorEnv(num_envs=0)
    with pytest.raises(ValueError, match="max_episode_steps"):
        ArmReachVectorEnv(num_envs=1, max_episode_steps=0)
    with pytest.raises(ValueError, match="control_mode"):
        ArmReachVectorEnv(num_envs=1, control_mode="velocity")


def test_snapshot_restores_the_trajectory_exactly() -> None:
    env = gymnasium.make_vec(envs.ARM_REACH_ID, num_envs=2)
    env.reset(seed=3)
    rng = np.random.default_rng(1)
    actions = rng.uniform(-1, 1, size=(150, 2, 5))
    for a in actions[:95]:
        env.step(a)
    snapshot = env_snapshot(env)
    first = [env.step(a) for a in actions[95:]]
    other = gymnasium.make_vec(envs.ARM_REACH_ID, num_envs=2)
    other.reset(seed=99)
    assert restore_env_snapshot(other, snapshot)
    for t, a in enumerate(actions[95:]):
        _assert_same_step(first[t], other.step(a), f"step {95 + t}")


def test_a_sync_snapshot_is_not_forced_onto_the_native_env() -> None:
    sync, native = _pair(num_envs=2)
    sync.reset(seed=0)
    native.reset(seed=0)
    assert not restore_env_snapshot(native, env_snapshot(sync))
    assert not restore_env_snapshot(sync, env_snapshot(native))


def test_render_gives_one_frame_per_arm() -> None:
    env = gymnasium.make_vec(
        envs.ARM_REACH_ID, num_envs=2, render_mode="rgb_array", width=64, height=48
    )
    env.reset(seed=0)
    frames = env.render()
    assert len(frames) == 2 and frames[0].shape == (48, 64, 3)
    env.close()
