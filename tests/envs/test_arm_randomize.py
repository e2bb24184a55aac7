"""Randomised physics, servo smoothing and speed caps, and the control period of ArmReach."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401 - registers the ids
from envs.arm_randomize import RandomizationConfig
from envs.arm_reach import ArmReachEnv

FULL = {
    "mass_scale": [0.7, 1.3],
    "damping_scale": [0.7, 1.3],
    "friction_scale": [0.7, 1.3],
    "gain_scale": [0.7, 1.3],
    "calibration_offset": 0.035,
    "observation_noise": 0.01,
    "latency_steps": [0, 2],
    "control_period_jitter": 0.1,
}


def test_draws_are_seeded_applied_and_reported(tmp_path: Path) -> None:
    log = tmp_path / "draws.jsonl"
    env = ArmReachEnv(randomization={**FULL, "log_file": str(log)})
    nominal_mass = env.model.body_mass.copy()
    _, info = env.reset(seed=3)
    draws = info["randomization"]
    assert set(draws) == set(FULL) - {"observation_noise", "control_period_jitter"}
    bodies = env._randomizer._bodies
    np.testing.assert_allclose(
        env.model.body_mass[bodies], nominal_mass[bodies] * draws["mass_scale"]
    )
    kp = np.array([40, 80, 50, 15, 10]) * draws["gain_scale"]
    np.testing.assert_allclose(env.model.actuator_gainprm[:, 0], kp)
    again = ArmReachEnv(randomization=FULL)
    _, info_again = again.reset(seed=3)
    for key, value in draws.items():
        np.testing.assert_array_equal(info_again["randomization"][key], value)
    _, other = env.reset(seed=4)
    assert not np.array_equal(other["randomization"]["mass_scale"], draws["mass_scale"])
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [row["episode"] for row in rows] == [1, 2]
    np.testing.assert_allclose(rows[0]["mass_scale"], draws["mass_scale"])


def test_readings_carry_the_offset_while_the_reward_uses_the_true_fingertip() -> None:
    env = ArmReachEnv(randomization={"calibration_offset": 0.05})
    obs, info = env.reset(seed=0)
    offset = info["randomization"]["calibration_offset"]
    angles = env.data.qpos[:5]
    np.testing.assert_allclose(np.arctan2(obs[5:10], obs[:5]), angles + offset, atol=1e-12)
    true_distance = np.linalg.norm(env.target_position - env.end_effector_position)
    assert info["distance"] == pytest.approx(true_distance)
    assert np.linalg.norm(obs[21:24]) != pytest.approx(true_distance)
    # a zero action holds the read target: the servo is sent the true angle
    for _ in range(30):
        env.step(np.zeros(5, np.float32))
    np.testing.assert_allclose(env.data.ctrl[:5], env._servo_target - offset)


def test_latency_delays_actions_by_whole_steps() -> None:
    delayed = ArmReachEnv(randomization={"latency_steps": 2})
    plain = ArmReachEnv()
    delayed.reset(seed=0)
    plain.reset(seed=0)
    action = np.full(5, 0.5, np.float32)
    start = delayed._servo_target.copy()
    delayed.step(action)
    delayed.step(action)
    np.testing.assert_array_equal(delayed._servo_target, start)  # zeros acted so far
    delayed.step(action)
    np.testing.assert_allclose(delayed._servo_target, np.clip(start + 0.05, None, None))


def test_jitter_changes_the_physics_steps_per_control_step() -> None:
    env = ArmReachEnv(randomization={"control_period_jitter": 0.5})
    env.reset(seed=0)
    times = []
    for _ in range(20):
        before = env.data.time
        env.step(np.zeros(5, np.float32))
        times.append(round((env.data.time - before) / env.model.opt.timestep))
    assert len(set(times)) > 2 and min(times) >= 5 and max(times) <= 15


def test_randomized_vector_env_matches_single_envs() -> None:
    vector = gym.make_vec("RLHFGym/ArmReach-v0", num_envs=2, randomization=FULL)
    singles = [gym.make("RLHFGym/ArmReach-v0", randomization=FULL) for _ in range(2)]
    obs, _ = vector.reset(seed=5)
    for i, env in enumerate(singles):
        np.testing.assert_array_equal(obs[i], env.reset(seed=5 + i)[0])
    rng = np.random.default_rng(0)
    for _ in range(5):
        actions = rng.uniform(-1, 1, size=(2, 5)).astype(np.float32)
        obs, rewards, _, _, info = vector.step(actions)
        for i, env in enumerate(singles):
            single_obs, reward, *_ = env.step(actions[i])
            np.testing.assert_array_equal(obs[i], single_obs)
            assert rewards[i] == reward
    assert info["distance"].shape == (2,)


def test_bad_randomization_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="randomization.mass_scal: unknown key"):
        RandomizationConfig.from_value({"mass_scal": [0.7, 1.3]})
    with pytest.raises(ValueError, match="randomization.gain_scale must satisfy"):
        RandomizationConfig.from_value({"gain_scale": [1.3, 0.7]})
    with pytest.raises(FileNotFoundError, match="randomization file not found"):
        RandomizationConfig.from_value(str(tmp_path / "none.yaml"))
    (tmp_path / "r.yaml").write_text("latency_steps: [0, 2]\nobservation_noise: 0.01\n")
    config = RandomizationConfig.from_value(str(tmp_path / "r.yaml"))
    assert config.latency_steps == (0, 2) and config.observation_noise == 0.01


def test_smoothing_and_speed_cap_shape_the_servo_command() -> None:
    smooth = ArmReachEnv(action_smoothing=0.5)
    smooth.reset(seed=0)
    start = smooth._command.copy()
    smooth.step(np.ones(5, np.float32))
    target = smooth._servo_target
    np.testing.assert_allclose(smooth.data.ctrl[:5], start + 0.5 * (target - start))
    capped = ArmReachEnv(max_joint_speed=1.0)  # 0.02 rad per 0.02 s step
    capped.reset(seed=0)
    start = capped._command.copy()
    capped.step(np.ones(5, np.float32))
    capped_target = capped._servo_target
    np.testing.assert_allclose(
        capped.data.ctrl[:5] - start, np.minimum(0.02, capped_target - start)
    )
    with pytest.raises(ValueError, match="action_smoothing must be in"):
        ArmReachEnv(action_smoothing=1.0)
    with pytest.raises(ValueError, match="max_joint_speed must be positive"):
        ArmReachEnv(max_joint_speed=0.0)


def test_control_period_sets_the_physics_steps() -> None:
    env = ArmReachEnv(control_period=0.05)
    assert env.frame_skip == 25 and env.dt == pytest.approx(0.05)
    with pytest.raises(ValueError, match="not a whole number of the model's 0.002 s"):
        ArmReachEnv(control_period=0.033)


def test_exploring_starts_cover_the_joint_ranges_without_contacts() -> None:
    env = ArmReachEnv(xml_file="arm4_up.xml", ee_site="tip", random_start_fraction=1.0)
    starts = []
    for seed in range(20):
        env.reset(seed=seed)
        starts.append(env.data.qpos.copy())
        assert env.data.ncon == 0 and env.end_effector_position[2] >= 0.03
        np.testing.assert_allclose(env._servo_target, env.data.qpos)  # it starts at rest there
    starts = np.array(starts)
    assert np.ptp(starts, axis=0).min() > 1.0  # not the home pose (all zeros) plus noise
    home = ArmReachEnv(xml_file="arm4_up.xml", ee_site="tip")
    home.reset(seed=0)
    assert np.abs(home.data.qpos).max() <= 0.05
    with pytest.raises(ValueError, match="random_start_fraction must be in"):
        ArmReachEnv(random_start_fraction=1.5)


def test_joint_target_mode_spans_each_joints_range() -> None:
    env = ArmReachEnv(control_mode="joint_target")
    env.reset(seed=0)
    low, high = env.arm.joint_range.T
    env.step(np.zeros(5, np.float32))
    np.testing.assert_allclose(env._servo_target, (low + high) / 2)
    env.step(np.ones(5, np.float32))
    np.testing.assert_allclose(env._servo_target, high)
    np.testing.assert_allclose(env.data.ctrl[:5], high)
    vector = gym.make_vec("RLHFGym/ArmReach-v0", num_envs=2, control_mode="joint_target")
    vector.reset(seed=0)
    vector.step(-np.ones((2, 5), np.float32))
    np.testing.assert_allclose(vector.envs[1].data.ctrl[:5], low)


def test_noisy_readings_give_finite_difference_velocities_and_resume_exactly() -> None:
    env = ArmReachEnv(randomization=FULL)
    obs, _ = env.reset(seed=2)
    np.testing.assert_array_equal(obs[10:15], 0.0)  # at rest: no difference yet
    angles = np.arctan2(obs[5:10], obs[:5])
    obs, *_ = env.step(np.full(5, 0.3, np.float32))
    new_angles = np.arctan2(obs[5:10], obs[:5])
    np.testing.assert_allclose(obs[10:15], (new_angles - angles) / env.dt, atol=1e-9)
    snapshot, rng = env.get_sim_state(), env.np_random.bit_generator.state
    actions = [np.full(5, v, np.float32) for v in (0.5, -0.2, 0.1)]
    first = [env.step(a)[0] for a in actions]
    env.set_sim_state(snapshot)
    env.np_random.bit_generator.state = rng
    np.testing.assert_array_equal(first, [env.step(a)[0] for a in actions])
