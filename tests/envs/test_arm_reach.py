"""Tests for envs.arm_reach.ArmReachEnv: the issue's spec, one bullet at a time."""

from __future__ import annotations

import ast
import inspect
import pickle
import subprocess
import sys
from pathlib import Path

import gymnasium
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.arm_reach import ArmReachEnv
from tests.envs.conftest import reach_with_ik, solve_ik

ARM5_JOINTS = ("base_yaw", "shoulder_pitch", "elbow_pitch", "wrist_pitch", "wrist_yaw")

USER_ARM = """
<mujoco model="arm3">
  <compiler angle="radian"/>
  <option timestep="0.002"/>
  <worldbody>
    <geom type="plane" size="1 1 0.1"/>
    <body name="link0" pos="0 0 0.1">
      <joint name="yaw" axis="0 0 1" range="-3 3" damping="0.1"/>
      <geom type="cylinder" size="0.03 0.02" mass="0.2"/>
      <body name="link1" pos="0 0 0.02">
        <joint name="shoulder" axis="0 1 0" range="-1.5 1.5" damping="0.1"/>
        <geom type="capsule" fromto="0 0 0 0 0 0.2" size="0.02" mass="0.2"/>
        <body name="link2" pos="0 0 0.2">
          <joint name="elbow" axis="0 1 0" range="-2.5 2.5" damping="0.1"/>
          <geom type="capsule" fromto="0 0 0 0.15 0 0" size="0.015" mass="0.1"/>
          <site name="tip" pos="0.15 0 0"/>
        </body>
      </body>
    </body>
  </worldbody>
  ACTUATORS
</mujoco>
"""
USER_MOTORS = """<actuator>
    <motor joint="yaw" gear="2" forcerange="-1 1"/>
    <motor joint="shoulder" forcerange="-3 3"/>
    <motor joint="elbow" forcerange="-2 2"/>
  </actuator>"""


def negative_squared_distance(observation: np.ndarray, action: np.ndarray, info: dict) -> float:
    """A module-level reward_fn, so that it can be named by import path and pickled."""
    return -(info["distance"] ** 2)


@pytest.fixture
def env() -> ArmReachEnv:
    arm_env = ArmReachEnv()
    arm_env.reset(seed=0)
    yield arm_env
    arm_env.close()


def write_user_arm(tmp_path: Path, actuators: str = USER_MOTORS) -> Path:
    path = tmp_path / "arm3.xml"
    path.write_text(USER_ARM.replace("ACTUATORS", actuators))
    return path


def rollout(arm_env: ArmReachEnv, seed: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    observations = [arm_env.reset(seed=seed)[0]]
    actions = np.random.default_rng(seed).uniform(-1, 1, size=(steps, 5))
    rewards = []
    for action in actions:
        observation, reward, *_ = arm_env.step(action)
        observations.append(observation)
        rewards.append(reward)
    return np.array(observations), np.array(rewards)


# -- model -------------------------------------------------------------------------------------


def test_default_model_is_a_five_joint_desktop_arm(env: ArmReachEnv) -> None:
    model = env.model
    assert env.arm.joint_names == ARM5_JOINTS
    assert env.action_space == gymnasium.spaces.Box(-1, 1, (5,), np.float32)
    for name in ARM5_JOINTS:
        joint = model.joint(name)
        assert joint.type[0] == mujoco.mjtJoint.mjJNT_HINGE and joint.limited[0]
        assert joint.damping[0] > 0 and joint.armature[0] > 0
    assert np.all(model.body_mass[model.body("turret").id :][:5] > 0.05)
    # About 0.5 m reach, from the shoulder pivot on the base-yaw axis.
    np.testing.assert_allclose(env.workspace.pivot, env.data.joint("shoulder_pitch").xanchor)
    assert 0.5 < env.workspace.max_reach <= 0.52 + 1e-9
    assert model.site("end_effector").id == env.arm.ee_site_id
    target = model.body("target")
    assert target.mocapid[0] >= 0
    geoms = np.flatnonzero(model.geom_bodyid == target.id)
    assert geoms.size and not model.geom_contype[geoms].any()
    assert not model.geom_conaffinity[geoms].any()
    assert model.light_active.any() and model.camera("overview").id >= 0
    assert model.opt.timestep == 0.002 and env.frame_skip == 10 and env.dt == pytest.approx(0.02)


def test_registration_time_limit_and_no_termination() -> None:
    arm_env = gymnasium.make(envs.ARM_REACH_ID)
    assert arm_env.spec.max_episode_steps == 100
    arm_env.reset(seed=1)
    for step in range(1, 101):
        _, _, terminated, truncated, _ = arm_env.step(arm_env.action_space.sample())
        assert not terminated
        assert truncated == (step == 100)
    arm_env.close()


# -- observation and reward ----------------------------------------------------------------------


def test_observation_layout(env: ArmReachEnv) -> None:
    for _ in range(5):
        observation, *_ = env.step(env.action_space.sample())
    q = env.data.qpos[env.arm.qpos_adr]
    ee = env.data.site("end_effector").xpos
    target = env.data.mocap_pos[env.arm.target_mocap_id]
    assert observation.shape == (24,) and observation.dtype == np.float64
    assert env.observation_space.contains(observation)
    np.testing.assert_allclose(observation[0:5], np.cos(q))
    np.testing.assert_allclose(observation[5:10], np.sin(q))
    np.testing.assert_allclose(observation[10:15], env.data.qvel[env.arm.qvel_adr])
    np.testing.assert_allclose(observation[15:18], ee)
    np.testing.assert_allclose(observation[18:21], target)
    np.testing.assert_allclose(observation[21:24], target - ee)
    # The end effector is where the current qpos puts it, not one substep behind.
    data = mujoco.MjData(env.model)
    data.qpos[:] = env.data.qpos
    mujoco.mj_kinematics(env.model, data)
    np.testing.assert_allclose(observation[15:18], data.site("end_effector").xpos)


def test_reward_is_the_sum_of_the_info_terms() -> None:
    arm_env = ArmReachEnv(reward_control_weight=0.05, success_bonus=0.5, success_threshold=0.08)
    arm_env.reset(seed=3)
    goal = solve_ik(arm_env, arm_env.target_position, arm_env._servo_target)
    seen_success = {True: 0, False: 0}
    for step in range(60):  # 30 steps towards the target, then 30 random ones
        action = np.clip((goal - arm_env._servo_target) / 0.1, -1, 1)
        if step >= 30:
            action = arm_env.action_space.sample()
        observation, reward, _, _, info = arm_env.step(action)
        distance = np.linalg.norm(observation[21:24])
        assert info["distance"] == pytest.approx(distance)
        assert info["reward_dist"] == pytest.approx(-distance)
        assert info["reward_ctrl"] == pytest.approx(-0.05 * np.sum(action.astype(float) ** 2))
        assert info["is_success"] == (distance < 0.08)
        assert info["reward_success"] == 0.5 * info["is_success"]
        assert reward == info["reward_dist"] + info["reward_ctrl"] + info["reward_success"]
        assert "reward_custom" not in info
        seen_success[info["is_success"]] += 1
    assert all(seen_success.values()), seen_success


@pytest.mark.parametrize(
    "reward_fn",
    [negative_squared_distance, "tests.envs.test_arm_reach:negative_squared_distance"],
)
def test_reward_fn_replaces_the_reward(reward_fn: object) -> None:
    seen = []

    def spy(observation: np.ndarray, action: np.ndarray, info: dict) -> float:
        seen.append((observation.copy(), action.copy(), dict(info)))
        return np.float32(1.5)

    arm_env = ArmReachEnv(reward_fn=reward_fn)
    arm_env.reset(seed=0)
    observation, reward, _, _, info = arm_env.step(np.full(5, 0.5))
    assert reward == info["reward_custom"] == pytest.approx(-(info["distance"] ** 2))
    assert {"reward_dist", "reward_ctrl", "reward_success", "is_success"} <= info.keys()

    spied = ArmReachEnv(reward_fn=spy)
    spied.reset(seed=0)
    observation, reward, _, _, info = spied.step(np.full(5, 0.5))
    assert reward == 1.5 and isinstance(reward, float)
    passed_observation, passed_action, passed_info = seen[0]
    np.testing.assert_array_equal(passed_observation, observation)
    np.testing.assert_array_equal(passed_action, np.full(5, 0.5))
    assert passed_info["distance"] == info["distance"] and "reward_custom" not in passed_info


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.ones(2), "1.0", None])
def test_reward_fn_must_return_a_finite_scalar(bad: object) -> None:
    def broken_reward(observation: np.ndarray, action: np.ndarray, info: dict) -> object:
        return bad

    arm_env = ArmReachEnv(reward_fn=broken_reward)
    arm_env.reset(seed=0)
    with pytest.raises(ValueError, match="broken_reward"):
        arm_env.step(np.zeros(5))


def test_reward_fn_bad_import_path_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no_such_function"):
        ArmReachEnv(reward_fn="tests.envs.test_arm_reach:no_such_function")


def reward_of_two_arguments(observation: np.ndarray, action: np.ndarray) -> float:
    """A reward_fn missing its `info` argument."""
    return 0.0


@pytest.mark.parametrize(
    "reward_fn",
    [reward_of_two_arguments, "tests.envs.test_arm_reach:reward_of_two_arguments", len],
)
def test_reward_fn_with_the_wrong_signature_fails_when_the_env_is_built(reward_fn: object) -> None:
    """Not at the first step: a run would otherwise stop after its whole set-up."""
    with pytest.raises(ValueError, match=r"must take \(observation, action, info\)"):
        ArmReachEnv(reward_fn=reward_fn)
    with pytest.raises(ValueError, match="reward_of_two_arguments|builtins.len"):
        gymnasium.make_vec(envs.ARM_REACH_ID, num_envs=2, reward_fn=reward_fn)


def test_reward_fn_signatures_that_take_three_arguments_are_accepted() -> None:
    def with_defaults(observation, action, info=None, scale=1.0):  # noqa: ANN001, ANN202
        return 0.0

    def variadic(*args):  # noqa: ANN002, ANN202
        return 0.0

    for reward_fn in (with_defaults, variadic, lambda o, a, i: 0.0):
        arm_env = ArmReachEnv(reward_fn=reward_fn)
        arm_env.reset(seed=0)
        assert arm_env.step(np.zeros(5))[1] == 0.0


# -- starting state and targets ------------------------------------------------------------------


def test_reset_home_pose_with_bounded_noise() -> None:
    arm_env = ArmReachEnv(reset_noise_scale=0.05)
    home = arm_env.arm.home_qpos[arm_env.arm.qpos_adr]
    np.testing.assert_allclose(home, [0.0, 0.5, 1.3, 0.9, 0.0])
    starts = []
    for seed in range(20):
        arm_env.reset(seed=seed)
        starts.append(arm_env.data.qpos[arm_env.arm.qpos_adr].copy())
        assert not arm_env.data.qvel.any()
        np.testing.assert_array_equal(arm_env._servo_target, starts[-1])
    offsets = np.array(starts) - home
    assert np.abs(offsets).max() <= 0.05 and np.abs(offsets).max() > 0.03


def test_targets_are_uniform_in_the_workspace(env: ArmReachEnv) -> None:
    workspace = env.workspace
    targets = []
    for seed in range(150):
        env.reset(seed=seed)
        targets.append(env.target_position)
        np.testing.assert_array_equal(env.data.mocap_pos[env.arm.target_mocap_id], targets[-1])
    targets = np.array(targets)
    assert workspace.contains(targets).all()
    radius = np.linalg.norm(targets - workspace.pivot, axis=1)
    assert radius.min() >= 0.25 * workspace.max_reach and radius.max() <= 0.9 * workspace.max_reach
    assert targets[:, 2].min() >= 0.03
    assert np.abs(np.arctan2(targets[:, 1], targets[:, 0])).max() <= 2.6
    # Uniform in volume: the radius distribution matches points drawn uniformly in the box and
    # kept if inside (independent Monte Carlo), and both shell walls are approached.
    rng = np.random.default_rng(123)
    box = rng.uniform(*workspace.bounds(), size=(60_000, 3))
    reference = np.linalg.norm(box[workspace.contains(box)] - workspace.pivot, axis=1)
    samples = np.linalg.norm(
        np.array([workspace.sample(rng) for _ in range(3000)]) - workspace.pivot, axis=1
    )
    assert samples.mean() == pytest.approx(reference.mean(), abs=0.004)
    assert np.median(samples) == pytest.approx(np.median(reference), abs=0.006)
    assert samples.min() < workspace.inner_radius + 0.02
    assert samples.max() > workspace.outer_radius - 0.01


def test_a_decent_policy_reaches_any_target_well_within_the_episode(env: ArmReachEnv) -> None:
    for seed in range(8):
        env.reset(seed=seed)
        steps, distance = reach_with_ik(env, max_steps=60)
        assert steps is not None and steps <= 40, (seed, steps, distance)


# -- control -------------------------------------------------------------------------------------


def test_position_servo_holds_the_pose_against_gravity(env: ArmReachEnv) -> None:
    start = env.end_effector_position
    for _ in range(50):
        env.step(np.zeros(5))
    q = env.data.qpos[env.arm.qpos_adr]
    assert np.abs(q - env._servo_target).max() < 0.03
    assert np.linalg.norm(env.end_effector_position - start) < 0.01


def test_position_target_tracks_and_is_clipped_to_the_joint_range(env: ArmReachEnv) -> None:
    target_before = env._servo_target.copy()
    action = np.array([0.5, -0.5, 0.2, 0.0, 1.0])
    env.step(action)
    np.testing.assert_allclose(env._servo_target, target_before + 0.1 * action)
    np.testing.assert_allclose(env.data.ctrl, env._servo_target)
    for _ in range(60):
        env.step(np.ones(5))
    high = env.arm.joint_range[:, 1]
    np.testing.assert_array_equal(env._servo_target, high)
    assert np.all(env.data.qpos[env.arm.qpos_adr] <= high + 0.05)


def test_one_xml_serves_both_control_modes() -> None:
    position, torque = ArmReachEnv(), ArmReachEnv(control_mode="torque")
    kp = np.array([40, 80, 50, 15, 10.0])
    limits = np.array([4, 6, 4, 1.5, 1.5])
    np.testing.assert_array_equal(position.model.actuator_gainprm[:, 0], kp)
    np.testing.assert_array_equal(position.model.actuator_biasprm[:, 1], -kp)
    assert np.all(position.model.actuator_biasprm[:, 2] < 0)
    np.testing.assert_array_equal(torque.model.actuator_gainprm[:, 0], limits)
    assert not torque.model.actuator_biasprm.any()
    np.testing.assert_array_equal(torque.model.actuator_ctrlrange, [[-1, 1]] * 5)
    torque.reset(seed=0)
    action = np.array([0.5, -0.25, 1.0, -1.0, 0.0])
    torque.step(action)
    np.testing.assert_allclose(torque.data.actuator_force, action * limits)
    start = torque.end_effector_position
    for _ in range(20):
        torque.step(np.zeros(5))
    assert torque.end_effector_position[2] < start[2] - 0.05  # no servo: gravity wins


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (np.zeros(4), "shape"),
        (np.zeros((1, 5)), "shape"),
        ([0, 0, float("nan"), 0, 0], "NaN or inf"),
        ([0, 0, 0, float("inf"), 0], "NaN or inf"),
        ([0, 0, 0, 0, -float("inf")], "NaN or inf"),
        ([0, 1.01, 0, 0, 0], "outside the action space"),
        ([-1.5, 0, 0, 0, 0], "outside the action space"),
        (["a", 0, 0, 0, 0], "numeric"),
    ],
)
def test_bad_actions_raise(env: ArmReachEnv, action: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        env.step(action)


def test_actions_within_tolerance_pass(env: ArmReachEnv) -> None:
    env.step(np.full(5, 1.0 + 5e-7))
    env.step([-1.0, 1.0, 0.0, 0.5, -0.5])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"control_mode": "velocity"}, "control_mode"),
        ({"success_threshold": 0.0}, "success_threshold"),
        ({"success_threshold": -0.1}, "success_threshold"),
        ({"max_delta": 0.0}, "max_delta"),
        ({"max_delta": float("nan")}, "max_delta"),
        ({"frame_skip": 0}, "frame_skip"),
        ({"frame_skip": -3}, "frame_skip"),
        ({"frame_skip": 2.5}, "frame_skip"),
        ({"reset_noise_scale": -1.0}, "reset_noise_scale"),
        ({"reward_dist_weight": float("inf")}, "reward_dist_weight"),
        ({"target_reach_range": (0.9, 0.2)}, "target_reach_range"),
        ({"kp": -1.0}, "kp"),
        ({"kp": [1.0, 2.0]}, "kp"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_bad_constructor_arguments_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ArmReachEnv(**kwargs)


# -- user MJCF -----------------------------------------------------------------------------------


def test_user_mjcf_arm(tmp_path: Path) -> None:
    path = write_user_arm(tmp_path)
    with pytest.raises(ValueError, match="pass kp="):  # motors only: no servo gains to reuse
        ArmReachEnv(xml_file=str(path), ee_site="tip")
    arm_env = ArmReachEnv(xml_file=str(path), ee_site="tip", kp=20.0)
    assert arm_env.arm.joint_names == ("yaw", "shoulder", "elbow")
    assert arm_env.action_space.shape == (3,) and arm_env.observation_space.shape == (18,)
    np.testing.assert_allclose(arm_env.workspace.pivot, [0, 0, 0.12])
    assert arm_env.workspace.max_reach == pytest.approx(0.2 + 0.15, abs=0.005)  # elbow at -pi/2
    np.testing.assert_array_equal(arm_env.model.actuator_gainprm[:, 0], 20.0)
    observation, _ = arm_env.reset(seed=0)
    assert arm_env.workspace.contains(observation[None, 12:15]).all()
    for _ in range(10):
        arm_env.step(arm_env.action_space.sample())
    start = arm_env.data.qpos[arm_env.arm.qpos_adr].copy()
    goal = solve_ik(arm_env, arm_env.target_position, start)
    assert goal is not None

    torque = ArmReachEnv(xml_file=str(path), ee_site="tip", control_mode="torque")
    assert torque.arm.torque_limit == (2.0, 3.0, 2.0)  # forcerange times gear
    torque.reset(seed=0)
    torque.step(np.array([1.0, -1.0, 0.5]))
    np.testing.assert_allclose(torque.data.qfrc_actuator, [2.0, -3.0, 1.0])


def test_user_mjcf_without_actuators_and_a_joint_subset(tmp_path: Path) -> None:
    path = write_user_arm(tmp_path, actuators="")
    arm_env = ArmReachEnv(xml_file=str(path), ee_site="tip", kp=[10.0, 20.0, 15.0])
    assert arm_env.arm.joint_names == ("yaw", "shoulder", "elbow")  # every hinge
    assert arm_env.model.nu == 3 and arm_env.model.body("target").mocapid[0] >= 0
    arm_env.reset(seed=0)
    arm_env.step(np.zeros(3))
    subset = ArmReachEnv(xml_file=str(path), ee_site="tip", joint_names=["shoulder", "elbow"], kp=9)
    assert subset.action_space.shape == (2,) and subset.observation_space.shape == (15,)
    subset.reset(seed=0)
    subset.step(np.ones(2))
    with pytest.raises(ValueError, match="torque_limit"):
        ArmReachEnv(xml_file=str(path), ee_site="tip", control_mode="torque")


def test_user_mjcf_errors_name_what_is_missing(tmp_path: Path) -> None:
    path = write_user_arm(tmp_path)
    missing_site = r"end effector 'gripper' not found in arm3.xml: .*sites: \['tip'\]"
    with pytest.raises(ValueError, match=missing_site):
        ArmReachEnv(xml_file=str(path), ee_site="gripper", kp=1.0)
    with pytest.raises(ValueError, match=r"joint 'wrist' not found in arm3.xml; hinge joints"):
        ArmReachEnv(xml_file=str(path), ee_site="tip", joint_names=["yaw", "wrist"], kp=1.0)
    with pytest.raises(FileNotFoundError, match="missing.xml"):
        ArmReachEnv(xml_file=str(tmp_path / "missing.xml"))
    (tmp_path / "broken.xml").write_text("<mujoco><worldbody><oops/></worldbody></mujoco>")
    with pytest.raises(ValueError, match="broken.xml"):
        ArmReachEnv(xml_file=str(tmp_path / "broken.xml"))


# -- rendering -----------------------------------------------------------------------------------


def test_render_rgb_array_offscreen() -> None:
    arm_env = ArmReachEnv(render_mode="rgb_array", width=96, height=64)
    arm_env.reset(seed=0)
    first = arm_env.render()
    assert first.shape == (64, 96, 3) and first.dtype == np.uint8
    assert first.std() > 10 and len(np.unique(first.reshape(-1, 3), axis=0)) > 50
    for _ in range(10):
        arm_env.step(np.ones(5))
    assert np.abs(arm_env.render().astype(int) - first).mean() > 1  # the arm moved
    arm_env.close()


def test_render_a_user_arm_without_a_camera(tmp_path: Path) -> None:
    path = write_user_arm(tmp_path)
    arm_env = ArmReachEnv(
        xml_file=str(path), ee_site="tip", kp=5.0, render_mode="rgb_array", width=64, height=48
    )
    arm_env.reset(seed=0)
    image = arm_env.render()  # the free camera framing the estimated workspace
    assert image.shape == (48, 64, 3) and image.std() > 5
    arm_env.close()


@pytest.mark.parametrize("frame_skip", [10, 4, 7])
def test_render_fps_is_one_over_dt(frame_skip: int) -> None:
    arm_env = ArmReachEnv(frame_skip=frame_skip)
    assert arm_env.metadata["render_fps"] == pytest.approx(1.0 / arm_env.dt)
    assert "render_fps" not in ArmReachEnv.metadata


# -- API compatibility ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:.*infinity:UserWarning")  # Box(-inf, inf) is the spec
def test_gymnasium_and_sb3_env_checkers() -> None:
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    made = gymnasium.make(envs.ARM_REACH_ID)
    check_env(made.unwrapped)
    sb3_check_env(ArmReachEnv(control_mode="torque"))
    made.close()


def test_seeded_determinism() -> None:
    first, second = ArmReachEnv(), ArmReachEnv()
    observations, rewards = rollout(first, seed=7, steps=100)
    observations_again, rewards_again = rollout(second, seed=7, steps=100)
    np.testing.assert_array_equal(observations, observations_again)
    np.testing.assert_array_equal(rewards, rewards_again)
    other, _ = rollout(second, seed=8, steps=1)
    assert not np.array_equal(other[0, 18:21], observations[0, 18:21])


def test_pickle_round_trip() -> None:
    original = ArmReachEnv(
        control_mode="torque", reward_fn="tests.envs.test_arm_reach:negative_squared_distance"
    )
    copy = pickle.loads(pickle.dumps(original))
    observations, rewards = rollout(original, seed=2, steps=20)
    observations_copy, rewards_copy = rollout(copy, seed=2, steps=20)
    np.testing.assert_array_equal(observations, observations_copy)
    np.testing.assert_array_equal(rewards, rewards_copy)


def test_documented_defaults_equal_the_signature() -> None:
    docstring = inspect.getdoc(ArmReachEnv)
    table = docstring.split("## Arguments", 1)[1]
    documented = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            documented[cells[0].strip("`")] = ast.literal_eval(cells[2].strip("`"))
    parameters = inspect.signature(ArmReachEnv.__init__).parameters
    signature = {name: p.default for name, p in parameters.items() if name != "self"}
    assert documented == signature


def test_vector_env_autoresets() -> None:
    vector_env = gymnasium.make_vec(envs.ARM_REACH_ID, num_envs=2, vectorization_mode="sync")
    observations, _ = vector_env.reset(seed=0)
    assert observations.shape == (2, 24)
    for _ in range(101):
        observations, rewards, terminated, truncated, infos = vector_env.step(
            vector_env.action_space.sample()
        )
    assert rewards.shape == (2,) and not terminated.any() and "distance" in infos
    vector_env.close()


def test_envs_never_import_torch() -> None:
    code = "import sys, envs, envs.arm_reach, gymnasium; gymnasium.make('RLHFGym/ArmReach-v0')\n"
    code += "assert 'torch' not in sys.modules, 'envs imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_stable_baselines3_ppo_trains_unchanged() -> None:
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    model = PPO("MlpPolicy", gymnasium.make(envs.ARM_REACH_ID), n_steps=64, batch_size=32, seed=0)
    model.learn(256)
    observation, _ = model.get_env().envs[0].reset(seed=0)
    action, _ = model.predict(observation, deterministic=True)
    assert action.shape == (5,) and np.all(np.abs(action) <= 1)


def test_sim_state_snapshot_continues_identically() -> None:
    first, second = ArmReachEnv(), ArmReachEnv()
    first.reset(seed=4)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(60, 5))
    for action in actions[:30]:
        first.step(action)
    state = first.get_sim_state()
    rng_state = first.np_random.bit_generator.state
    second.reset(seed=99)  # a different episode, then overwritten by the snapshot
    second.set_sim_state(state)
    second.np_random.bit_generator.state = rng_state
    for action in actions[30:]:
        expected = first.step(action)
        got = second.step(action)
        np.testing.assert_array_equal(got[0], expected[0])
        assert got[1] == expected[1]
    # The episode RNG came along: both draw the same next target.
    np.testing.assert_array_equal(first.reset()[0], second.reset()[0])
    # A snapshot is a copy: stepping does not change it.
    assert not np.array_equal(state["physics"], first.get_sim_state()["physics"])


def test_sim_state_from_another_model_is_rejected(tmp_path: Path) -> None:
    user_arm = ArmReachEnv(xml_file=str(write_user_arm(tmp_path)), ee_site="tip", kp=5.0)
    user_arm.reset(seed=0)
    env = ArmReachEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="different MJCF"):
        env.set_sim_state(user_arm.get_sim_state())
