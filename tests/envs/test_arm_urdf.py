"""Bring your own arm from URDF: position actuators added, a link as end effector, errors."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import envs  # noqa: F401 - registers the ids
from envs.arm_reach import ArmReachEnv

SO101_JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"]

TWO_LINK_URDF = """<robot name="two">
  <link name="base"/>
  <link name="upper">
    <inertial><origin xyz="0 0 0.1"/><mass value="0.2"/>
      <inertia ixx="1e-3" iyy="1e-3" izz="1e-4" ixy="0" ixz="0" iyz="0"/></inertial>
    <collision><origin xyz="0 0 0.1"/><geometry>GEOMETRY</geometry></collision>
  </link>
  <link name="fore">
    <inertial><origin xyz="0 0 0.08"/><mass value="0.1"/>
      <inertia ixx="5e-4" iyy="5e-4" izz="5e-5" ixy="0" ixz="0" iyz="0"/></inertial>
  </link>
  <link name="tool0"/>
  <joint name="shoulder" type="revolute"><parent link="base"/><child link="upper"/>
    <origin xyz="0 0 0.1"/><axis xyz="0 1 0"/>
    <limit lower="-1.5" upper="1.5" effort="4" velocity="5"/><dynamics damping="0.2"/></joint>
  <joint name="elbow" type="revolute"><parent link="upper"/><child link="fore"/>
    <origin xyz="0 0 0.2"/><axis xyz="0 1 0"/>
    <limit lower="-2" upper="2" effort="3" velocity="5"/><dynamics damping="0.1"/></joint>
  <joint name="tool" type="fixed"><parent link="fore"/><child link="tool0"/>
    <origin xyz="0 0 0.16"/></joint>
</robot>
"""
BOX = '<box size="0.03 0.03 0.2"/>'


def write_urdf(tmp_path: Path, geometry: str = BOX) -> Path:
    path = tmp_path / "two.urdf"
    path.write_text(TWO_LINK_URDF.replace("GEOMETRY", geometry))
    return path


def test_urdf_arm_gets_position_actuators_and_a_link_end_effector(tmp_path: Path) -> None:
    env = ArmReachEnv(xml_file=str(write_urdf(tmp_path)), ee_site="tool0", kp=[20.0, 10.0])
    model = env.unwrapped.model
    # MuJoCo fuses the fixed link "tool0" into "fore"; its site stays at the link's frame
    assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "tool0") < 0
    assert model.nu == 2
    np.testing.assert_allclose(model.actuator_gainprm[:, 0], [20.0, 10.0])
    np.testing.assert_allclose(model.actuator_forcerange[:, 1], [4.0, 3.0])  # URDF effort
    env.reset(seed=0)
    data = env.unwrapped.data
    data.qpos[:] = 0.0
    mujoco.mj_kinematics(model, data)
    np.testing.assert_allclose(data.site("tool0").xpos, [0.0, 0.0, 0.46], atol=1e-9)
    # the servo holds a target: all actions 0 leave the arm where the targets are
    env.reset(seed=1)
    start = data.qpos.copy()
    for _ in range(20):
        env.step(np.zeros(2, np.float32))
    np.testing.assert_allclose(data.qpos, start, atol=0.05)
    assert model.ngeom >= 2  # a floor was added


def test_urdf_errors_are_one_line_and_say_what_to_do(tmp_path: Path) -> None:
    mesh = write_urdf(tmp_path, '<mesh filename="package://two/meshes/upper.stl"/>')
    with pytest.raises(ValueError, match=r"could not load URDF .*two.urdf.*package://") as info:
        ArmReachEnv(xml_file=str(mesh), ee_site="tool0", kp=10.0)
    assert "\n" not in str(info.value)
    path = write_urdf(tmp_path)
    with pytest.raises(ValueError, match="no position servo to take kp from; pass kp="):
        ArmReachEnv(xml_file=str(path), ee_site="tool0")
    with pytest.raises(ValueError, match=r"end effector 'hand' not found in two.urdf.*links"):
        ArmReachEnv(xml_file=str(path), ee_site="hand", kp=10.0)
    broken = tmp_path / "broken.urdf"
    broken.write_text("<robot><link name=")
    with pytest.raises(ValueError, match="could not load URDF") as info:
        ArmReachEnv(xml_file=str(broken), ee_site="tool0", kp=10.0)
    assert "\n" not in str(info.value)


def test_so101_urdf_is_a_six_joint_arm_with_servo_figures() -> None:
    env = gym.make(
        "RLHFGym/ArmReach-v0", xml_file="so101.urdf", ee_site="gripper_tip", kp=17.8,
        armature=0.028, joint_names=SO101_JOINTS,
    )  # fmt: skip
    arm = env.unwrapped.arm
    assert arm.model.njnt == 6 and arm.joint_names == tuple(SO101_JOINTS)
    np.testing.assert_allclose(arm.model.dof_armature[:5], 0.028)
    np.testing.assert_allclose(arm.model.dof_damping[:6], 0.6)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (24,)
    for _ in range(10):
        obs, *_ = env.step(env.action_space.sample())
    assert np.isfinite(obs).all()


def test_armature_replaces_the_models(tmp_path: Path) -> None:
    env = ArmReachEnv(xml_file=str(write_urdf(tmp_path)), ee_site="tool0", kp=5.0, armature=0.01)
    np.testing.assert_allclose(env.model.dof_armature, [0.01, 0.01])
    with pytest.raises(ValueError, match="armature has 3 values"):
        ArmReachEnv(xml_file=str(write_urdf(tmp_path)), ee_site="tool0", kp=5.0, armature=[1, 1, 1])
