"""`rlhf-gym arm export`: ONNX (normaliser folded in) and numpy runners match PyTorch."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401 - registers the ids
from rlhf_arm.experiment import load_run
from rlhf_arm.export import OnnxPolicy
from rlhf_arm.numpy_policy import NumpyPolicy
from rlhf_gym.cli import main
from tests.rlhf_arm.arm_runs import REPO, tiny_run


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("export")
    run = tiny_run(root / "run")
    assert main(["arm", "export", "--checkpoint", str(run), "--out", str(root / "policy")]) == 0
    return run, root / "policy"


def real_observations(count: int = 300) -> np.ndarray:
    """Observations of the arm moving under random actions, over several episodes."""
    env = gym.make("RLHFGym/ArmReach-v0")
    rows = []
    for episode in range(count // 50):
        obs, _ = env.reset(seed=episode)
        for _ in range(50):
            rows.append(obs)
            obs, *_ = env.step(env.action_space.sample())
    return np.array(rows)


def torch_actions(run: Path, observations: np.ndarray) -> np.ndarray:
    _, policy = load_run(run)
    with torch.no_grad():
        out = policy.act(torch.as_tensor(observations, dtype=torch.float32), deterministic=True)
    return np.clip(out.actions.numpy(), -1.0, 1.0)


def test_onnx_and_numpy_match_pytorch_within_1e_5(exported: tuple[Path, Path]) -> None:
    run, policy_dir = exported
    observations = real_observations()
    expected = torch_actions(run, observations)
    assert np.abs(expected).max() > 1e-3  # a policy that does something
    onnx_actions = OnnxPolicy(policy_dir)(observations)
    np.testing.assert_allclose(onnx_actions, expected, atol=1e-5, rtol=0)
    one = OnnxPolicy(policy_dir)(observations[7])
    np.testing.assert_allclose(one, expected[7], atol=1e-5, rtol=0)
    np.testing.assert_allclose(NumpyPolicy(policy_dir)(observations), expected, atol=1e-5, rtol=0)


def test_policy_json_says_what_a_deploy_loop_needs(exported: tuple[Path, Path]) -> None:
    _, policy_dir = exported
    description = json.loads((policy_dir / "policy.json").read_text())
    assert description["joint_names"] == [
        "base_yaw", "shoulder_pitch", "elbow_pitch", "wrist_pitch", "wrist_yaw",
    ]  # fmt: skip
    assert description["observation_layout"]["target_minus_end_effector"] == [21, 24]
    assert description["control_period"] == pytest.approx(0.02)
    assert description["max_delta"] == pytest.approx(0.1)
    assert np.array(description["joint_limits"]).shape == (5, 2)
    assert description["control_mode"] == "position"


def test_numpy_runner_needs_no_torch(exported: tuple[Path, Path]) -> None:
    _, policy_dir = exported
    code = (
        "import sys, numpy as np\n"
        "from rlhf_arm.numpy_policy import NumpyPolicy\n"
        f"policy = NumpyPolicy({str(policy_dir)!r})\n"
        "print(policy(np.zeros(24)).shape)\n"
        "assert 'torch' not in sys.modules and 'onnxruntime' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(5,)"


def test_one_onnx_tick_is_fast(exported: tuple[Path, Path]) -> None:
    """The issue's budget is 1 ms per tick on one core; a shared test machine gets 5x."""
    _, policy_dir = exported
    policy = OnnxPolicy(policy_dir)
    observation = real_observations(50)[10]
    for _ in range(20):
        policy(observation)
    times = []
    for _ in range(200):
        start = time.perf_counter()
        policy(observation)
        times.append(time.perf_counter() - start)
    assert float(np.median(times)) < 5e-3


def test_export_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["arm", "export", "--checkpoint", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("rlhf-gym: error: ") and err.count("\n") == 1
