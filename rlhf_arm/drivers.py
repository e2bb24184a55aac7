"""Arm drivers for `rlhf-gym arm deploy`: read joint positions, send goal positions.

- `ArmDriver`: the protocol a deploy loop speaks (radians, in the policy's joint order);
- `SimArmDriver`: a separate MuJoCo arm with perturbed physics, command latency and read
  noise that advances in real (wall-clock) time: the stand-in for hardware;
- `LeRobotDriver`: an SO-101 follower through LeRobot's Feetech motor bus (the `lerobot`
  extra, imported only when the driver is built).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import mujoco
import numpy as np

from envs._arm_model import load_arm
from envs.arm_randomize import PhysicsRandomizer


@runtime_checkable
class ArmDriver(Protocol):
    """What a deploy loop needs of an arm, real or simulated.

    Attributes:
        joint_names: The driven joints, in the policy's order.
    """

    joint_names: tuple[str, ...]

    def read_positions(self) -> tuple[np.ndarray, float]:
        """The joint positions (rad, shape (n,)) and when they were read (`time.monotonic`)."""
        ...

    def send_goal(self, positions: np.ndarray) -> None:
        """Sends goal positions (rad, shape (n,)) to the servos."""
        ...

    def close(self) -> None:
        """Leaves the arm holding its last goal and releases the connection."""
        ...


class SimArmDriver:
    """A MuJoCo arm that runs in real time behind the `ArmDriver` protocol.

    The physics advances to the wall clock whenever the driver is called, so a loop that
    ticks late sees the arm move on meanwhile; goals take effect `latency` seconds after
    they are sent; readings carry the perturbation's calibration offsets and noise.

    Args:
        env_kwargs: The exported policy's env arguments (model file, joints, gains).
        perturb: A randomization mapping or YAML path (`envs.arm_randomize`), drawn once:
            the arm's physics differ from the training model's.
        latency: Seconds from `send_goal` to the servo acting on it.
        seed: Seeds the perturbation and the read noise.
        clock: Wall-clock seconds (`time.monotonic`; tests may pass a fake).
    """

    def __init__(
        self,
        env_kwargs: Mapping[str, Any],
        perturb: Mapping[str, Any] | str | Path | None = None,
        latency: float = 0.04,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        arm = load_arm(
            env_kwargs.get("xml_file", "arm5.xml"),
            ee_site=env_kwargs.get("ee_site", "end_effector"),
            joint_names=env_kwargs.get("joint_names"),
            control_mode="position",
            kp=env_kwargs.get("kp"), kv=env_kwargs.get("kv"),
            torque_limit=env_kwargs.get("torque_limit"), armature=env_kwargs.get("armature"),
        )  # fmt: skip
        self.arm, self.model = arm, arm.model
        self.data = mujoco.MjData(self.model)
        self.joint_names = arm.joint_names
        self._rng = np.random.default_rng(seed)
        self._randomizer = None
        if perturb is not None:
            self._randomizer = PhysicsRandomizer.for_arm(perturb, self.model, arm, True)
            self.draws = self._randomizer.draw(self._rng)
        self.data.qpos[:] = arm.home_qpos
        self.data.ctrl[:] = arm.home_ctrl
        self.data.ctrl[arm.actuator_ids] = arm.home_qpos[arm.qpos_adr]
        mujoco.mj_forward(self.model, self.data)
        self.latency = float(latency)
        self._clock = clock
        self._start = clock()
        self._pending: deque[tuple[float, np.ndarray]] = deque()
        self.frozen = False  # tests: readings stop updating, as a dead bus would

    def _advance(self) -> None:
        """Steps the physics up to now, applying goals when their latency has passed."""
        now = self._clock() - self._start
        timestep = self.model.opt.timestep
        while self.data.time + timestep <= now:
            while self._pending and self._pending[0][0] <= self.data.time:
                self.data.ctrl[self.arm.actuator_ids] = self._pending.popleft()[1]
            mujoco.mj_step(self.model, self.data)

    def read_positions(self) -> tuple[np.ndarray, float]:
        if self.frozen:
            return self._last_read
        self._advance()
        angles = self.data.qpos[self.arm.qpos_adr].copy()
        if self._randomizer is not None:
            angles = self._randomizer.read_angles(angles, self._rng)
        self._last_read = (angles, self._clock())
        return self._last_read

    def send_goal(self, positions: np.ndarray) -> None:
        self._advance()
        goal = np.asarray(positions, np.float64).copy()
        if self._randomizer is not None:  # the servo's zero is off by the calibration offset
            goal -= self._randomizer.offset
        self._pending.append((self.data.time + self.latency, goal))

    def close(self) -> None:
        self._pending.clear()  # holds the last goal the servos got

    def fingertip(self) -> np.ndarray:
        """The true fingertip position (m): what a camera would measure. -> (3,)."""
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self.arm.ee_site_id].copy()


class LeRobotDriver:
    """An SO-101 follower arm through LeRobot's motor bus (`FeetechMotorsBus`).

    Positions are read as `Present_Position` and sent as `Goal_Position` in degrees (the
    bus's `DEGREES` mode, which needs LeRobot's calibration file), converted to the
    policy's radians as `radians = sign * (degrees - zero_degrees) * pi / 180`.

    Args:
        bus: A connected motor bus, or None to build one from `port` and `calibration`.
        joint_names: The policy's joints; each must be one of the bus's motors.
        zero_degrees, signs: Per joint, how the arm's calibrated degrees map to the model's
            angles (check them with the arm at its model's zero pose).
    """

    def __init__(
        self,
        joint_names: Sequence[str],
        bus: Any = None,
        port: str | None = None,
        calibration: str | None = None,
        zero_degrees: Sequence[float] | None = None,
        signs: Sequence[float] | None = None,
    ) -> None:
        self.joint_names = tuple(joint_names)
        n = len(self.joint_names)
        self._zero = np.zeros(n) if zero_degrees is None else np.asarray(zero_degrees, float)
        self._signs = np.ones(n) if signs is None else np.asarray(signs, float)
        self.bus = bus if bus is not None else make_so101_bus(self.joint_names, port, calibration)
        missing = [name for name in self.joint_names if name not in self.bus.motors]
        if missing:
            raise ValueError(
                f"the motor bus has no motor {missing}; it has {list(self.bus.motors)}"
            )

    def read_positions(self) -> tuple[np.ndarray, float]:
        present = self.bus.sync_read("Present_Position")
        degrees = np.array([float(present[name]) for name in self.joint_names])
        return self._signs * np.radians(degrees - self._zero), time.monotonic()

    def send_goal(self, positions: np.ndarray) -> None:
        degrees = np.degrees(np.asarray(positions, float) * self._signs) + self._zero
        self.bus.sync_write(
            "Goal_Position", dict(zip(self.joint_names, degrees.tolist(), strict=True))
        )

    def close(self) -> None:
        # keep the torque on: the arm holds its last goal instead of dropping
        self.bus.disconnect(disable_torque=False)


SO101_MOTORS = {"shoulder_pan": 1, "shoulder_lift": 2, "elbow_flex": 3, "wrist_flex": 4,
                "wrist_roll": 5, "gripper": 6}  # fmt: skip
"""the SO-101 follower's Feetech STS3215 bus ids (LeRobot's `so101_follower`)"""


def make_so101_bus(joint_names: Sequence[str], port: str | None, calibration: str | None) -> Any:
    """A connected `FeetechMotorsBus` for an SO-101 follower (needs the `lerobot` extra).

    Raises:
        ImportError: LeRobot is not installed (one line saying how to install it).
        ValueError: No `--port` or `--calibration` was given.
    """
    if not port or not calibration:
        raise ValueError("--driver lerobot needs --port (e.g. /dev/ttyACM0) and --calibration")
    try:
        import draccus
        from lerobot.motors import Motor, MotorCalibration, MotorNormMode
        from lerobot.motors.feetech import FeetechMotorsBus
    except ImportError as error:
        raise ImportError(
            f"--driver lerobot needs LeRobot: pip install 'rlhf-gym[lerobot]' ({error})"
        ) from error
    with open(calibration) as file, draccus.config_type("json"):
        calib = draccus.load(dict[str, MotorCalibration], file)
    motors = {
        name: Motor(SO101_MOTORS[name], "sts3215", MotorNormMode.DEGREES) for name in joint_names
    }
    bus = FeetechMotorsBus(port=port, motors=motors, calibration=calib)
    bus.connect()
    bus.enable_torque()  # the servos hold their goals from the first tick
    return bus
