"""PybulletRenderer: the scene camera in pybullet's TinyRenderer (software: no GL needed), with the MuJoCo
camera's pose and intrinsics (sim_bridge.camera.CameraConfig), so a pixel sees the same ray in both engines.

It renders in a pybullet client of its own, holding the same scene (sim_bridge.pybullet_scene), moved to the
state it is given. TinyRenderer holds Python's GIL while it draws (about 50 ms for a 320x240 frame), so beside a
physics thread (the sim node) it runs in a process of its own (`RenderProcess`); MuJoCo's renderer lets go of
the GIL and needs none.
"""

from __future__ import annotations

import multiprocessing

import mujoco
import numpy as np
import pybullet as pb
from polyarm_core.rotations import pose_matrix
from polyarm_description import RobotProfile

from sim_bridge.camera import CameraConfig
from sim_bridge.pybullet_scene import BulletScene

NEAR_M, FAR_M = 0.01, 10.0
SAMPLE_OFFSET = (1.0, 1.0)  # the depth buffer's clipping planes
# where no geometry is hit, MuJoCo's scene shows black (it has no skybox); TinyRenderer's clear colour is white
BACKGROUND_RGB = (0, 0, 0)
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
        # the camera in its mount's frame: the world's, or the TCP's (a wrist camera)
        self._mount_from_camera = pose_matrix(camera.mujoco_rotation(), camera.position)
        self._fixed_view = None if camera.mount == "wrist" else self._view(self._mount_from_camera)

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
        buffer = np.reshape(buffer, (c.height, c.width))
        rgb[buffer >= 1.0] = BACKGROUND_RGB
        depth = depth_from_buffer(buffer).astype(np.float32)
        depth[depth > c.max_depth_m] = 0.0
        return rgb, depth

    def _view_matrix(self) -> list[float]:
        if self._fixed_view is not None:
            return self._fixed_view
        link = pb.getLinkState(self.scene.robot_body, self.scene.robot_links["tcp"], computeForwardKinematics=True,
                               physicsClientId=self.client)
        world_from_tcp = pose_matrix(np.reshape(pb.getMatrixFromQuaternion(link[5]), (3, 3)), link[4])
        return self._view(world_from_tcp @ self._mount_from_camera)

    @staticmethod
    def _view(world_from_camera: np.ndarray) -> list[float]:
        """World-to-camera in OpenGL's camera frame (MuJoCo's: x right, y up, looking along -z), column-major."""
        return np.linalg.inv(world_from_camera).T.ravel().tolist()

    def close(self) -> None:
        if pb.isConnected(self.client):
            pb.disconnect(self.client)


class RenderProcess:
    """A PybulletRenderer in a process of its own (module doc), with the same `render` and `close`: the state
    goes over a pipe, the frame comes back. Started with spawn: the calling process has threads (rclpy, physics)."""

    def __init__(self, robot: RobotProfile, model: mujoco.MjModel, camera: CameraConfig):
        self.model, self.camera = model, camera
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, robot, model, camera), name="tinyrenderer", daemon=True)
        self._process.start()
        child.close()

    def render(self, qpos: np.ndarray, mocap_pos=None, mocap_quat=None) -> tuple[np.ndarray, np.ndarray]:
        self._pipe.send((qpos, mocap_pos, mocap_quat))
        try:
            reply = self._pipe.recv()
        except EOFError:
            raise RuntimeError(f"the render process exited (code {self._process.exitcode})") from None
        if isinstance(reply, str):
            raise RuntimeError(f"the render process failed: {reply}")
        return reply

    def close(self) -> None:
        if self._process.is_alive():
            try:
                self._pipe.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._process.join(timeout=2.0)
            if self._process.is_alive():
                self._process.terminate()
        self._pipe.close()


def _serve(pipe, robot: RobotProfile, model: mujoco.MjModel, camera: CameraConfig) -> None:
    """The render process: a frame for each state received, until None or the pipe closes."""
    renderer = PybulletRenderer(robot, model, camera)
    try:
        while (state := pipe.recv()) is not None:
            try:
                pipe.send(renderer.render(*state))
            except Exception as err:  # noqa: BLE001 - the caller raises it with the reason
                pipe.send(f"{type(err).__name__}: {err}")
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        renderer.close()
