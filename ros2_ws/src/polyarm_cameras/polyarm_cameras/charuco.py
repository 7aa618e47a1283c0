"""The ChArUco calibration board: its spec, its printable image, and its corners found in a camera image.

One spec serves the printed board on a lab's robot, the textured board the sim renders, and the
calibration solvers (polyarm_calibration): squares, their size, the markers' size and dictionary.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CharucoBoardSpec:
    squares_x: int = 6
    squares_y: int = 5
    square_m: float = 0.03  # side of a chessboard square
    marker_m: float = 0.022  # side of an ArUco marker inside a white square
    dictionary: str = "DICT_4X4_50"

    def __post_init__(self):
        if self.squares_x < 3 or self.squares_y < 3:
            raise ValueError(f"a ChArUco board needs at least 3x3 squares, got {self.squares_x}x{self.squares_y}")
        if not 0 < self.marker_m < self.square_m:
            raise ValueError(f"the markers ({self.marker_m} m) must be smaller than the squares ({self.square_m} m)")
        if not hasattr(cv2.aruco, self.dictionary):
            raise ValueError(f"unknown ArUco dictionary {self.dictionary!r}")

    @property
    def size_m(self) -> tuple[float, float]:
        return self.squares_x * self.square_m, self.squares_y * self.square_m

    def board(self) -> cv2.aruco.CharucoBoard:
        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        return cv2.aruco.CharucoBoard((self.squares_x, self.squares_y), self.square_m, self.marker_m, dictionary)

    def image(self, pixels_per_square: int = 100) -> np.ndarray:
        """The board as a uint8 grey image, the board's x to the right and y down from its top-left corner."""
        width, height = self.squares_x * pixels_per_square, self.squares_y * pixels_per_square
        return self.board().generateImage((width, height), marginSize=0, borderBits=1)


@dataclass(frozen=True)
class BoardView:
    """The chessboard corners found in one image: their ids, pixels, and points on the board (m, z = 0)."""

    ids: np.ndarray  # (N,)
    pixels: np.ndarray  # (N, 2)
    board_points: np.ndarray  # (N, 3)


def detect(spec: CharucoBoardSpec, image: np.ndarray, min_corners: int = 6) -> BoardView | None:
    """The board's inner corners in an RGB or grey image (sub-pixel), or None where fewer than
    `min_corners` are seen (a PnP on fewer is not worth keeping)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    board = spec.board()
    corners, ids, _, _ = cv2.aruco.CharucoDetector(board).detectBoard(grey)
    if ids is None or len(ids) < min_corners:
        return None
    ids = ids.ravel()
    return BoardView(ids, corners.reshape(-1, 2).astype(np.float64), board.getChessboardCorners()[ids].astype(np.float64))
