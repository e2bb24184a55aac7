"""The exported arm policy in numpy alone: for small computers with neither torch nor ONNX.

`NumpyPolicy(policy_dir)` reads `policy.npz` and `policy.json` (written by
`rlhf-gym arm export`) and computes the same function as `policy.onnx`: normalise and clip
the observation, the actor's tanh MLP, the head, clip to [-1, 1]. This module imports only
numpy and the standard library (a test checks that torch stays unloaded).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


class NumpyPolicy:
    """observation -> action with numpy, from an export folder.

    Attributes:
        description: `policy.json`'s contents.
    """

    def __init__(self, policy_dir: str | Path) -> None:
        folder = Path(policy_dir)
        with np.load(folder / "policy.npz") as arrays:
            self._arrays = {key: arrays[key] for key in arrays.files}
        self.description: dict[str, Any] = json.loads((folder / "policy.json").read_text())
        layers = sum(1 for key in self._arrays if key.startswith("w") and key[1:].isdigit())
        self._hidden = [(self._arrays[f"w{i}"], self._arrays[f"b{i}"]) for i in range(layers)]
        self._mean, self._std = self._arrays["obs_mean"], self._arrays["obs_std"]
        self._clip = float(self._arrays["obs_clip"])

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        """`(D,)` -> `(A,)` or `(N, D)` -> `(N, A)`, float32 as the ONNX graph computes."""
        x = np.asarray(observation, np.float32)
        x = np.clip((x - self._mean) / self._std, -self._clip, self._clip)
        for weight, bias in self._hidden:
            x = np.tanh(x @ weight + bias)
        action = x @ self._arrays["w_head"] + self._arrays["b_head"]
        return np.clip(action, -1.0, 1.0)
