"""`rlhf-gym arm export`: a trained arm policy as `policy.onnx`, `policy.npz` and `policy.json`.

The exported policy is the deterministic actor (the Gaussian's mean), clipped to the action
space [-1, 1], with the observation normaliser folded in: it takes the env's raw observation
(`envs/arm_reach.py`'s layout) and returns the action, so a deploy loop needs nothing of
torch. Three files:

- `policy.onnx`: the graph, written node by node with `onnx.helper` (Sub, Div, Clip, then
  MatMul + Add + Tanh per hidden layer, the head, Clip), input `observation` `(N, obs_dim)`
  float32, output `action` `(N, action_dim)`;
- `policy.npz`: the same arrays, for `rlhf_arm.numpy_policy` (numpy only, no ONNX Runtime);
- `policy.json`: what a deploy loop must know: the observation layout, the action's meaning
  and scale, the control period, joint names and limits, the arm model and servo settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.gaussian import GaussianActorCritic
from rlhf_arm.experiment import ContinuousConfig, load_run

FORMAT_VERSION = 1
ACTION_MEANING = {
    "position": "servo target += action * max_delta (rad), clipped to the joint limits",
    "joint_target": "servo target = middle + action * half-range of each joint's limits (rad)",
    "torque": "joint torque = action * torque_limit (N m)",
}
ONNX_OPSET = 17


def folded_arrays(policy: GaussianActorCritic) -> dict[str, np.ndarray]:
    """The actor's arrays with the normaliser's shift and scale, float32.

    Keys: `obs_mean`, `obs_std` (D,), `obs_clip` (), `w0, b0, w1, b1, ...` (hidden layers,
    `w_i` (in, out) for `x @ w_i + b_i`), `w_head` (H, A), `b_head` (A,).
    """
    arrays: dict[str, np.ndarray] = {}
    normalizer = policy.normalizer
    if normalizer is None:
        arrays["obs_mean"] = np.zeros(policy.obs_dim, np.float32)
        arrays["obs_std"] = np.ones(policy.obs_dim, np.float32)
        arrays["obs_clip"] = np.array(np.finfo(np.float32).max, np.float32)
    else:  # the float32 copies the policy itself computes with (agents.normalize)
        arrays["obs_mean"] = normalizer._mean32.numpy().copy()
        arrays["obs_std"] = normalizer._std32.numpy().copy()
        arrays["obs_clip"] = np.array(normalizer.clip, np.float32)
    for i, (weight, bias) in enumerate(
        zip(policy.hidden_weights, policy.hidden_biases, strict=True)
    ):
        arrays[f"w{i}"] = weight[0].detach().numpy().copy()  # the actor's half: (in, out)
        arrays[f"b{i}"] = bias[0, 0].detach().numpy().copy()
    arrays["w_head"] = policy.actor_head.weight.detach().numpy().T.copy()
    arrays["b_head"] = policy.actor_head.bias.detach().numpy().copy()
    return arrays


def onnx_model(arrays: dict[str, np.ndarray]) -> Any:
    """The ONNX graph of `folded_arrays` (see the module docstring)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    layers = sum(1 for key in arrays if key.startswith("w") and key[1:].isdigit())
    obs_dim, action_dim = arrays["obs_mean"].shape[0], arrays["b_head"].shape[0]
    clip = float(arrays["obs_clip"])
    constants = {
        "obs_mean": arrays["obs_mean"],
        "obs_std": arrays["obs_std"],
        "clip_low": np.array(-clip, np.float32),
        "clip_high": np.array(clip, np.float32),
        "action_low": np.array(-1.0, np.float32),
        "action_high": np.array(1.0, np.float32),
        **{f"w{i}": arrays[f"w{i}"] for i in range(layers)},
        **{f"b{i}": arrays[f"b{i}"] for i in range(layers)},
        "w_head": arrays["w_head"],
        "b_head": arrays["b_head"],
    }
    nodes = [
        helper.make_node("Sub", ["observation", "obs_mean"], ["centred"]),
        helper.make_node("Div", ["centred", "obs_std"], ["scaled"]),
        helper.make_node("Clip", ["scaled", "clip_low", "clip_high"], ["h_in0"]),
    ]
    for i in range(layers):
        nodes += [
            helper.make_node("MatMul", [f"h_in{i}", f"w{i}"], [f"mm{i}"]),
            helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"pre{i}"]),
            helper.make_node("Tanh", [f"pre{i}"], [f"h_in{i + 1}"]),
        ]
    nodes += [
        helper.make_node("MatMul", [f"h_in{layers}", "w_head"], ["mm_head"]),
        helper.make_node("Add", ["mm_head", "b_head"], ["mean"]),
        helper.make_node("Clip", ["mean", "action_low", "action_high"], ["action"]),
    ]
    graph = helper.make_graph(
        nodes,
        "arm_policy",
        [helper.make_tensor_value_info("observation", TensorProto.FLOAT, ["batch", obs_dim])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", action_dim])],
        initializer=[numpy_helper.from_array(value, name) for name, value in constants.items()],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="rlhf-gym"
    )
    model.ir_version = 8  # readable by ONNX Runtime releases of the last few years
    onnx.checker.check_model(model)
    return model


def policy_description(config: ContinuousConfig, policy: GaussianActorCritic) -> dict[str, Any]:
    """The contents of `policy.json` for a run on `RLHFGym/ArmReach-v0` (or an own arm)."""
    import gymnasium as gym

    import envs  # noqa: F401 - registers the ids

    if not config.env.id.startswith("RLHFGym/ArmReach"):
        raise ValueError(f"arm export needs an RLHFGym/ArmReach run, this one is {config.env.id}")
    kwargs = {k: v for k, v in config.env.kwargs.items() if k != "randomization"}
    env = gym.make(config.env.id, **kwargs).unwrapped
    arm, n = env.arm, len(env.arm.joint_names)
    layout = {"cos": [0, n], "sin": [n, 2 * n], "joint_velocity": [2 * n, 3 * n],
              "end_effector": [3 * n, 3 * n + 3], "target": [3 * n + 3, 3 * n + 6],
              "target_minus_end_effector": [3 * n + 6, 3 * n + 9]}  # fmt: skip
    description = {
        "format_version": FORMAT_VERSION,
        "env_id": config.env.id,
        "env_kwargs": kwargs,
        "model_file": str(arm.model_path),
        "ee_site": kwargs.get("ee_site", "end_effector"),
        "observation_dim": policy.obs_dim,
        "observation_layout": layout,
        "observation_normalizer": "folded into policy.onnx and policy.npz",
        "action_dim": policy.action_dim,
        "control_mode": kwargs.get("control_mode", "position"),
        "action_meaning": ACTION_MEANING[kwargs.get("control_mode", "position")],
        "max_delta": env._max_delta,
        "action_smoothing": env._smoothing,
        "max_step": None if env._max_step is None else env._max_step.tolist(),
        "control_period": env.dt,
        "joint_names": list(arm.joint_names),
        "joint_limits": arm.joint_range.tolist(),
        "home": arm.home_qpos[arm.qpos_adr].tolist(),
        "workspace": {
            "pivot": env.workspace.pivot.tolist(),
            "inner_radius": env.workspace.inner_radius,
            "outer_radius": env.workspace.outer_radius,
        },  # fmt: skip
        "success_threshold": env._success_threshold,
    }
    env.close()
    return description


def export_policy(run_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Writes `policy.onnx`, `policy.npz` and `policy.json` of a run into `out_dir`.

    Returns:
        `policy.json`'s contents, with `files` naming what was written.
    """
    config, policy = load_run(run_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        arrays = folded_arrays(policy)
    description = policy_description(config, policy)
    onnx_path = out / "policy.onnx"
    onnx_path.write_bytes(onnx_model(arrays).SerializeToString())
    np.savez(out / "policy.npz", **arrays)
    (out / "policy.json").write_text(json.dumps(description, indent=2) + "\n")
    files = [str(out / name) for name in ("policy.onnx", "policy.npz", "policy.json")]
    return {**description, "files": files}


class OnnxPolicy:
    """`policy.onnx` through ONNX Runtime on one CPU thread: observation -> action.

    Args:
        policy_dir: A folder written by `export_policy`.
    """

    def __init__(self, policy_dir: str | Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one control tick on one core: no thread hand-offs
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(Path(policy_dir) / "policy.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        """`(D,)` -> `(A,)` or `(N, D)` -> `(N, A)`, float32."""
        batch = np.asarray(observation, np.float32)
        single = batch.ndim == 1
        (action,) = self.session.run(["action"], {"observation": batch[None] if single else batch})
        return action[0] if single else action
