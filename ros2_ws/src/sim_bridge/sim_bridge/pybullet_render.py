"""PybulletRenderer: the scene camera in pybullet's TinyRenderer (software: no GL needed), with the MuJoCo
camera's pose and intrinsics (sim_bridge.camera.CameraConfig), so a pixel sees the same ray in both engines.

It renders in a pybullet client of its own, holding the same scene (sim_bridge.pybullet_scene), moved to the
state it is given: the renderer can run in the camera's thread beside the physics, as MuJoCo's SceneRenderer does.
"""

from __future__ import annotations

import mujoco
import numpy as np
import pybullet as pb
from polyarm_core.rotations import pose_matrix
from polyarm_description import RobotProfile

from sim_bridge.camera import CameraConfig
from sim_bridge.pybullet_scene import BulletScene

NEAR_M, FAR_M = 0.01, 10.0
SAMPLE_OFFSET = (1.0, 1.0)  # the depth buffer's clipping planes
# TinyRenderer's one light, pointing as the MuJoCo scene's key light does (from above, slightly -y); pybullet
# takes the direction toward the light
LIGHT_DIRECTION = (0.0, -0.25, 1.0)


def opengl_projection(K: np.ndarray, width: int, height: int, near: float = NEAR_M, far: float = FAR_M) -> np.ndarray:
    """The OpenGL projection of pinhole intrinsics K (pixel (0, 0)'s centre at (0.5, 0.5), rows from the top) for
    TinyRenderer, which samples pixel (u, v) at (u, v + 1) of that convention: the principal point moves by half a
    pixel to meet it (tests/test_pybullet_sim.py checks depth against the table's plane pixel for pixel)."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2] - 0.5 * SAMPLE_OFFSET[0], K[1, 2] + 0.5 * SAMPLE_OFFSET[1]
    return np.array([
        [2 * fx / width, 0.0, 1 - 2 * cx / width, 0.0],
        [0.0, 2 * fy / height, 2 * cy / height - 1, 0.0],
        [0.0, 0.0, -(far + near) / (far - near), -2 * far * near / (far - near)],
        [0.0, 0.0, -1.0, 0.0],
    ])


def depth_from_buffer(buffer: np.ndarray, near: float = NEAR_M, far: float = FAR_M) -> np.ndarray:
    """Metres along the optical axis from OpenGL's nonlinear depth buffer (0 at near, 1 at far)."""
    return far * near / (far - (far - near) * buffer)


class PybulletRenderer:
    def __init__(self, robot: RobotProfile, model: mujoco.MjModel, camera: CameraConfig):
        self.model, self.camera = model, camera
        self.client = pb.connect(pb.DIRECT)
        self.scene = BulletScene(self.client, robot, model)
        self._data = mujoco.MjData(model)
        self._projection = opengl_projection(camera.K, camera.width, camera.height).T.ravel().tolist()  # column-major

    def render(self, qpos: np.ndarray, mocap_pos=None, mocap_quat=None) -> tuple[np.ndarray, np.ndarray]:
        """RGB uint8 (H, W, 3) and depth in metres along the optical axis (H, W), 0 where no return, of the scene
        at MuJoCo state qpos (and mocap): SceneRenderer.render's contract."""
        self._data.qpos[:] = qpos
        if mocap_pos is not None:
            self._data.mocap_pos[:], self._data.mocap_quat[:] = mocap_pos, mocap_quat
        self.scene.push(self._data)
        c = self.camera
        _, _, rgba, buffer, _ = pb.getCameraImage(
            c.width, c.height, self._view_matrix(), self._projection, lightDirection=list(LIGHT_DIRECTION), shadow=0,
            renderer=pb.ER_TINY_RENDERER, flags=pb.ER_NO_SEGMENTATION_MASK, physicsClientId=self.client)
        rgb = np.ascontiguousarray(np.reshape(rgba, (c.height, c.width, 4))[..., :3], dtype=np.uint8)
        depth = depth_from_buffer(np.reshape(buffer, (c.height, c.width))).astype(np.float32)
        depth[depth > c.max_depth_m] = 0.0
        return rgb, depth

    def _view_matrix(self) -> list[float]:
        """World-to-camera in OpenGL's camera frame (MuJoCo's: x right, y up, looking along -z), column-major."""
        world_from_camera = pose_matrix(self.camera.mujoco_rotation(), self.camera.position)
        if self.camera.mount == "wrist":  # position and look_at are in the TCP frame
            link = pb.getLinkState(self.scene.robot_body, self.scene.robot_links["tcp"], computeForwardKinematics=True,
                                   physicsClientId=self.client)
            world_from_tcp = pose_matrix(np.reshape(pb.getMatrixFromQuaternion(link[5]), (3, 3)), link[4])
            world_from_camera = world_from_tcp @ world_from_camera
        return np.linalg.inv(world_from_camera).T.ravel().tolist()

    def close(self) -> None:
        if pb.isConnected(self.client):
            pb.disconnect(self.client)
