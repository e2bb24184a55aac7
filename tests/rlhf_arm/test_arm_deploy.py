"""`rlhf-gym arm deploy`: a fixed-rate loop over ArmDriver with clamps, watchdog and Ctrl-C."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rlhf_arm.deploy import DeployConfig, DeployLoop
from rlhf_arm.drivers import ArmDriver, LeRobotDriver, SimArmDriver
from rlhf_arm.export import export_policy
from rlhf_gym.cli import main
from tests.rlhf_arm.arm_runs import tiny_run

PERTURB = {"mass_scale": [0.7, 1.3], "gain_scale": [0.7, 1.3], "calibration_offset": 0.035,
           "observation_noise": 0.01}  # fmt: skip


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deploy")
    export_policy(tiny_run(root / "run"), root / "policy")
    return root / "policy"


class RecordingDriver:
    """A driver that records goals; `fail_at` raises on that read (KeyboardInterrupt...)."""

    joint_names = ("base_yaw", "shoulder_pitch", "elbow_pitch", "wrist_pitch", "wrist_yaw")

    def __init__(self, fail_at: int | None = None, stale_after: int | None = None) -> None:
        self.reads, self.goals, self.closed = 0, [], False
        self.fail_at, self.stale_after = fail_at, stale_after
        self.clock = 0.0

    def read_positions(self) -> tuple[np.ndarray, float]:
        self.reads += 1
        if self.fail_at is not None and self.reads == self.fail_at:
            raise KeyboardInterrupt
        stamp = self.clock if self.stale_after is None or self.reads < self.stale_after else 0.0
        return np.array([0.0, 0.5, 1.3, 0.9, 0.0]), stamp

    def send_goal(self, positions: np.ndarray) -> None:
        self.goals.append(np.array(positions))

    def close(self) -> None:
        self.closed = True


def fake_time(driver: RecordingDriver) -> tuple[Any, Any]:
    """A clock that advances only by sleeping, shared with the driver's read stamps."""

    def clock() -> float:
        return driver.clock

    def sleep(seconds: float) -> None:
        driver.clock += seconds

    return clock, sleep


def test_recording_driver_is_an_arm_driver() -> None:
    assert isinstance(RecordingDriver(), ArmDriver)
    assert isinstance(LeRobotDriver(RecordingDriver.joint_names, bus=MockBus()), ArmDriver)


def test_goals_are_clamped_to_limits_and_max_step(policy_dir: Path) -> None:
    driver = RecordingDriver()
    loop = DeployLoop(policy_dir, driver, DeployConfig(max_step=0.05))
    previous = np.zeros(5)
    goal = loop.safe_goal(np.array([9.0, -9.0, 0.01, 0.2, -0.2]), previous)
    np.testing.assert_allclose(goal, [0.05, -0.05, 0.01, 0.05, -0.05])
    near_limit = np.array([2.57, 0.0, 0.0, 0.0, 0.0])
    assert loop.safe_goal(near_limit + 0.05, near_limit)[0] == pytest.approx(2.6 - 0.02)


def test_fixed_rate_loop_ticks_every_period_and_holds_at_the_end(policy_dir: Path) -> None:
    driver = RecordingDriver()
    clock, sleep = fake_time(driver)
    summary = DeployLoop(policy_dir, driver, DeployConfig(seconds=1.0), clock, sleep).run()
    assert summary["stopped"] == "finished"
    assert summary["ticks"] == 50 and summary["overruns"] == 0
    goals = np.array(driver.goals)
    assert np.abs(np.diff(goals[:-1], axis=0)).max() <= 0.1 + 1e-9
    np.testing.assert_allclose(goals[-1], [0.0, 0.5, 1.3, 0.9, 0.0])  # the hold
    assert driver.closed


def test_stale_readings_stop_the_loop_holding_the_arm(policy_dir: Path) -> None:
    driver = RecordingDriver(stale_after=10)
    clock, sleep = fake_time(driver)
    summary = DeployLoop(policy_dir, driver, DeployConfig(seconds=5.0), clock, sleep).run()
    assert summary["stopped"].startswith("stale readings")
    assert summary["ticks"] == 8 and driver.closed


def test_ctrl_c_holds_the_arm_and_returns_cleanly(policy_dir: Path) -> None:
    driver = RecordingDriver(fail_at=6)
    clock, sleep = fake_time(driver)
    summary = DeployLoop(policy_dir, driver, DeployConfig(seconds=5.0), clock, sleep).run()
    assert summary["stopped"].startswith("interrupted")
    np.testing.assert_allclose(driver.goals[-1], [0.0, 0.5, 1.3, 0.9, 0.0])
    assert driver.closed


def test_sim_driver_runs_in_real_time_with_latency() -> None:
    now = [0.0]
    sim = SimArmDriver({}, perturb=None, latency=0.04, clock=lambda: now[0])
    start, _ = sim.read_positions()
    goal = start + np.array([0.0, 0.3, 0.0, 0.0, 0.0])
    sim.send_goal(goal)
    now[0] = 0.03  # before the latency has passed: the servo still holds the start
    np.testing.assert_allclose(sim.read_positions()[0], start, atol=0.01)  # gravity sag only
    now[0] = 1.0
    angles, stamp = sim.read_positions()
    assert stamp == 1.0 and sim.data.time == pytest.approx(1.0, abs=0.002)
    assert abs(angles[1] - goal[1]) < 0.05


def test_sim_driver_is_perturbed_and_reads_with_offsets() -> None:
    sim = SimArmDriver({}, perturb=PERTURB, seed=3)
    assert set(sim.draws) == {"mass_scale", "gain_scale", "calibration_offset"}
    angles, _ = sim.read_positions()
    true = sim.data.qpos[sim.arm.qpos_adr]
    assert 0 < np.abs(angles - true).max() < 0.035 + 0.05


def test_cli_deploy_on_the_sim_arm_in_real_time(policy_dir: Path, capsys) -> None:
    code = main(["arm", "deploy", "--policy", str(policy_dir), "--driver", "sim", "--seconds",
                 "0.6", "--latency", "0.02"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert 25 <= summary["ticks"] <= 31 and summary["stopped"] == "finished"


class MockBus:
    """LeRobot's motor bus as the driver uses it: motors, sync_read, sync_write, disconnect."""

    def __init__(self) -> None:
        self.motors = {name: object() for name in RecordingDriver.joint_names}
        self.present = dict.fromkeys(self.motors, 90.0)
        self.written: list[dict[str, float]] = []
        self.disconnected_with: dict[str, Any] | None = None

    def sync_read(self, register: str) -> dict[str, float]:
        assert register == "Present_Position"
        return dict(self.present)

    def sync_write(self, register: str, values: dict[str, float]) -> None:
        assert register == "Goal_Position"
        self.written.append(values)

    def disconnect(self, **kwargs: Any) -> None:
        self.disconnected_with = kwargs


def test_lerobot_driver_converts_degrees_and_keeps_torque_on_close() -> None:
    bus = MockBus()
    driver = LeRobotDriver(RecordingDriver.joint_names, bus=bus, zero_degrees=[90] * 5,
                           signs=[1, -1, 1, 1, 1])  # fmt: skip
    bus.present["shoulder_pitch"] = 90.0 + 30.0
    angles, _ = driver.read_positions()
    np.testing.assert_allclose(angles, [0, -np.pi / 6, 0, 0, 0])
    driver.send_goal(np.array([np.pi / 2, np.pi / 6, 0, 0, 0]))
    assert bus.written[-1]["base_yaw"] == pytest.approx(180.0)
    assert bus.written[-1]["shoulder_pitch"] == pytest.approx(60.0)
    driver.close()
    assert bus.disconnected_with == {"disable_torque": False}
    with pytest.raises(ValueError, match="no motor"):
        LeRobotDriver(("base_yaw", "elbow"), bus=bus)


def test_lerobot_driver_without_lerobot_is_one_line(policy_dir: Path, capsys) -> None:
    code = main(["arm", "deploy", "--policy", str(policy_dir), "--driver", "lerobot"])
    assert code == 2
    assert "needs --port" in capsys.readouterr().err
    code = main(["arm", "deploy", "--policy", str(policy_dir), "--driver", "lerobot", "--port",
                 "/dev/null", "--calibration", "c.json"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "pip install 'rlhf-gym[lerobot]'" in err or "No such file" in err
