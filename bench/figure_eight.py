"""The standard tracking trajectory: a horizontal figure-eight around the arm's home TCP pose."""

from __future__ import annotations

import numpy as np

PERIOD_S = 8.0


def figure_eight(center: np.ndarray, t: float, size: float) -> np.ndarray:
    """A lemniscate in the horizontal plane: `size` m across in y, half that in x, one loop per PERIOD_S."""
    w = 2.0 * np.pi / PERIOD_S
    return center + np.array([0.25 * size * np.sin(2 * w * t), 0.5 * size * np.sin(w * t), 0.0])


SIZE_M = {"panda": 0.2, "xarm7": 0.2, "wx250s": 0.12, "wx250": 0.12}
