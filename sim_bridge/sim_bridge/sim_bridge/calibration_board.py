"""A ChArUco board in the sim: a thin slab whose front face carries the board's image as a texture.

The board's frame is OpenCV's: the origin at the board's top-left corner, x along its rows, y down its
columns, z into the board, so the printed face looks along -z. Its pose in the scene is therefore the
pose calibration recovers. Mounted on the TCP it is the board held in the gripper (eye-to-hand); on the
table, the board a wrist camera looks down at (eye-in-hand).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np
from polyarm_cameras.charuco import CharucoBoardSpec
from polyarm_core.rotations import pose_matrix

THICKNESS = 0.003  # m
MARGIN_SQUARES = 0.5  # a white border, so the detector finds the outer markers
MOUNTS = ("gripper", "table", "free")
# Held in the gripper: the board's face looks along the TCP's x, its centre 6 cm in front of the fingers.
# Columns: the board's x, y, z in the TCP frame (x = TCP y, y = -TCP z, z = -TCP x).
TCP_FROM_BOARD_ROTATION = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
BOARD_CENTRE_IN_TCP = np.array([0.06, 0.0, -0.04])


@dataclass(frozen=True)
class BoardMount:
    """Where the sim puts the board: "gripper" (held at the TCP: eye-to-hand), "table" (face up, centred
    at `table_xy`: eye-in-hand), or "free" (a mocap body that tests place in front of the camera)."""

    where: str
    board: CharucoBoardSpec = field(default_factory=CharucoBoardSpec)
    table_xy: tuple[float, float] = (0.5, 0.0)

    def __post_init__(self):
        if self.where not in MOUNTS:
            raise ValueError(f"unknown board mount {self.where!r}; one of {', '.join(MOUNTS)}")

    def tcp_from_board(self) -> np.ndarray:
        """The board's frame in the TCP frame (the gripper mount)."""
        T = np.eye(4)
        T[:3, :3] = TCP_FROM_BOARD_ROTATION
        T[:3, 3] = BOARD_CENTRE_IN_TCP - TCP_FROM_BOARD_ROTATION @ np.array([*self.board.size_m, 0.0]) / 2.0
        return T

    def base_from_board(self) -> np.ndarray:
        """The board's frame in base_link (the table mount): face up, x along base x."""
        T = np.eye(4)
        T[:3, :3] = np.diag([1.0, -1.0, -1.0])  # z into the table, so the face looks up
        width, height = self.board.size_m
        T[:3, 3] = [self.table_xy[0] - width / 2.0, self.table_xy[1] + height / 2.0, THICKNESS]
        return T


def mount_board(spec: mujoco.MjSpec, tcp_site: str, mount: BoardMount) -> None:
    if mount.where == "gripper":
        site = spec.site(tcp_site)
        body_from_board = body_from_site(site) @ mount.tcp_from_board()
        add_board(spec, mount.board, site.parent, body_from_board[:3, 3], _quat(body_from_board[:3, :3]))
    elif mount.where == "table":
        T = mount.base_from_board()
        add_board(spec, mount.board, spec.worldbody, T[:3, 3], _quat(T[:3, :3]))
    else:
        add_board(spec, mount.board, spec.worldbody.add_body(name="board_mocap", mocap=True), [0, 0, 0], [1, 0, 0, 0])


def body_from_site(site) -> np.ndarray:
    """A spec site's pose in its parent body (MuJoCo quaternions are w x y z)."""
    R = np.empty(9)
    mujoco.mju_quat2Mat(R, np.asarray(site.quat, dtype=float))
    return pose_matrix(R.reshape(3, 3), site.pos)


def _quat(R) -> list:
    q = np.empty(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(R, dtype=float).ravel())
    return q.tolist()


def add_board(spec: mujoco.MjSpec, board: CharucoBoardSpec, body, pos, quat, name: str = "charuco_board") -> None:
    """The board as a child of `body` at `pos`, `quat` (w x y z) of its frame in the body's."""
    margin = MARGIN_SQUARES * board.square_m
    image = _texture(board)
    texture = spec.add_texture(name=name, type=mujoco.mjtTexture.mjTEXTURE_2D, width=image.shape[1],
                               height=image.shape[0], nchannel=3)
    texture.data = image.tobytes()
    material = spec.add_material(name=name)
    material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = name
    width, height = board.size_m
    x0, y0, x1, y1 = -margin, -margin, width + margin, height + margin
    front = [[x0, y0, 0.0], [x1, y0, 0.0], [x1, y1, 0.0], [x0, y1, 0.0]]
    back = [[x, y, THICKNESS] for x, y, _ in front]
    mesh = spec.add_mesh(name=name)
    mesh.uservert = np.ravel(front + back).tolist()
    mesh.usertexcoord = [0, 0, 1, 0, 1, 1, 0, 1] * 2  # the image's top-left at the board's origin corner
    # the front (z = 0) faces -z: counter-clockwise seen from there; the rest closes the slab
    mesh.userface = [0, 2, 1, 0, 3, 2, 4, 5, 6, 4, 6, 7, 0, 1, 5, 0, 5, 4, 1, 2, 6, 1, 6, 5, 2, 3, 7, 2, 7, 6,
                     3, 0, 4, 3, 4, 7]
    body.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_MESH, meshname=name, material=name, pos=list(pos),
                  quat=list(quat), contype=0, conaffinity=0, mass=0.05)


def _texture(board: CharucoBoardSpec, pixels_per_square: int = 120) -> np.ndarray:
    grey = board.image(pixels_per_square)
    pad = int(MARGIN_SQUARES * pixels_per_square)
    grey = np.pad(grey, pad, constant_values=255)
    return np.repeat(grey[:, :, None], 3, axis=2)
