"""The observation layout of `ArmReachEnv`'s docstring as views of one array."""

from __future__ import annotations

import numpy as np


class ObservationBuffer:
    """The observation layout of the class docstring, over one `(3n + 9,)` array or `(N, 3n + 9)`.

    Holds views of each block so that a step writes them in place; the target block is set at
    reset and stays put.
    """

    def __init__(self, n: int, array: np.ndarray) -> None:
        self.array = array
        self.cos, self.sin = array[..., :n], array[..., n : 2 * n]
        self.qvel, self.ee = array[..., 2 * n : 3 * n], array[..., 3 * n : 3 * n + 3]
        self.target, self.delta = array[..., 3 * n + 3 : 3 * n + 6], array[..., 3 * n + 6 :]

    def write(self, angles: np.ndarray, qvel: np.ndarray, ee: np.ndarray) -> None:
        """Fills every block but the target from joint angles, velocities and fingertip."""
        np.cos(angles, out=self.cos)
        np.sin(angles, out=self.sin)
        self.qvel[...] = qvel
        self.ee[...] = ee
        np.subtract(self.target, ee, out=self.delta)
