"""The tabletop scene: a robot from polyarm_description on a table, lights, and the fixed camera.

Built with MjSpec on top of the robot's own MJCF, so the robot keeps its names, defaults and
actuators; a task (sim_bridge.tasks) adds its objects to the same spec.
"""

from __future__ import annotations

import mujoco
import numpy as np
from polyarm_core.rotations import pose_matrix
from polyarm_description import RobotProfile

from sim_bridge.calibration_board import body_from_site, mount_board
from sim_bridge.camera import CameraConfig

TABLE_HALF_SIZE = (0.7, 0.8, 0.02)  # m; the top surface is the plane z = 0 of base_link
TABLE_CENTER = (0.4, 0.0, -TABLE_HALF_SIZE[2])
FLOOR_Z = -0.75
# Scene geoms collide with everything; robot geoms (contype 2, conaffinity 1) collide with the
# scene but not with each other.
SCENE_CONTYPE, SCENE_CONAFFINITY = 1, 3


def build_scene(robot: RobotProfile, camera: CameraConfig | None, physics_rate: float = 1000.0, task=None,
                board=None) -> mujoco.MjSpec:
    """`board`: a calibration_board.BoardMount (a ChArUco board in the gripper, on the table, or free)."""
    if physics_rate < 500:
        raise ValueError(f"physics rate {physics_rate} Hz is below the 500 Hz minimum")
    spec = mujoco.MjSpec.from_file(str(robot.mjcf_path))
    spec.option.timestep = 1.0 / physics_rate
    for key in list(spec.keys):  # the robot's keyframe does not cover scene objects; MujocoSim sets home
        spec.delete(key)
    _add_environment(spec)
    if task is not None:
        task.build(spec)
    if board is not None:
        mount_board(spec, robot.tcp_site, board)
    if camera is not None:
        _add_camera(spec, camera, robot.tcp_site)
    if robot.perception_camera_view:  # rendered only when asked for (polyarm_learning.sim_view)
        _add_camera(spec, CameraConfig.perception_view(robot))
    return spec


def _add_environment(spec: mujoco.MjSpec) -> None:
    world = spec.worldbody
    box, plane = mujoco.mjtGeom.mjGEOM_BOX, mujoco.mjtGeom.mjGEOM_PLANE
    world.add_geom(name="floor", type=plane, size=[3, 3, 0.1], pos=[0, 0, FLOOR_Z], rgba=[0.35, 0.37, 0.4, 1],
                   contype=SCENE_CONTYPE, conaffinity=SCENE_CONAFFINITY)
    world.add_geom(name="table", type=box, size=list(TABLE_HALF_SIZE), pos=list(TABLE_CENTER),
                   rgba=[0.62, 0.5, 0.38, 1], contype=SCENE_CONTYPE, conaffinity=SCENE_CONAFFINITY)
    world.add_light(name="key_light", pos=[0.5, -0.5, 2.0], dir=[0, 0.25, -1], diffuse=[0.7, 0.7, 0.7], castshadow=False)
    world.add_light(name="fill_light", pos=[-0.5, 0.8, 1.5], dir=[0.4, -0.4, -1], diffuse=[0.35, 0.35, 0.35], castshadow=False)
    spec.visual.headlight.ambient = [0.25, 0.25, 0.25]
    spec.visual.headlight.diffuse = [0.2, 0.2, 0.2]


def _add_camera(spec: mujoco.MjSpec, camera: CameraConfig, tcp_site: str = "tcp") -> None:
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, camera.mujoco_rotation().ravel())
    if camera.mount == "wrist":  # position and look_at are in the TCP frame; the camera rides on its body
        site = spec.site(tcp_site)
        pose = body_from_site(site) @ pose_matrix(camera.mujoco_rotation(), camera.position)
        mujoco.mju_mat2Quat(quat, np.ascontiguousarray(pose[:3, :3]).ravel())
        cam = site.parent.add_camera(name=camera.name, pos=pose[:3, 3].tolist(), quat=quat.tolist())
    else:
        cam = spec.worldbody.add_camera(name=camera.name, pos=list(camera.position), quat=quat.tolist())
    K = camera.K
    cam.resolution = [camera.width, camera.height]
    cam.sensor_size = [camera.width * 1e-5, camera.height * 1e-5]  # any pitch: only ratios matter
    cam.focal_pixel = [K[0, 0], K[1, 1]]
    # MuJoCo offsets the principal point from the image centre with the opposite sign of the
    # pixel axes (checked by tests/test_sim_core.py::test_camera_projection_matches_camera_info).
    cam.principal_pixel = [camera.width / 2.0 - K[0, 2], camera.height / 2.0 - K[1, 2]]
    # the offscreen buffer holds every camera of the scene (the scene camera and the perception camera)
    spec.visual.global_.offwidth = max(spec.visual.global_.offwidth, camera.width, 640)
    spec.visual.global_.offheight = max(spec.visual.global_.offheight, camera.height, 480)
    spec.visual.map.znear = 0.01  # of the model extent: a few cm
    spec.visual.map.zfar = 50.0
