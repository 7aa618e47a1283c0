"""MujocoSim, the scene and its camera, without ROS."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from polyarm_core.camera import depth_to_millimetres
from polyarm_core.driver import CommandRefused
from polyarm_description import ROBOTS, get_robot
from sim_bridge.camera import CameraConfig
from sim_bridge.mujoco_sim import MujocoSim, SceneRenderer
from sim_bridge.pacing import RealTimePacer
from sim_bridge.scene import build_scene

from sim_bridge import rendering


def optical_axis_depth_to_table(camera: CameraConfig) -> float:
    """Depth along the optical axis where it meets the table plane z = 0, from the geometry alone."""
    position, look_at = np.asarray(camera.position), np.asarray(camera.look_at)
    forward = (look_at - position) / np.linalg.norm(look_at - position)
    return float(-position[2] / forward[2])


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_depth_at_principal_point_is_the_camera_to_table_distance(name):
    camera = CameraConfig.for_robot(get_robot(name), width=320, height=240)
    sim = MujocoSim(get_robot(name), camera)
    renderer = SceneRenderer(sim.model, camera)
    rgb, depth = renderer.render(sim.data.qpos)
    renderer.close()
    assert rgb.shape == (240, 320, 3) and rgb.dtype == np.uint8 and rgb.std() > 5
    u, v = camera.K[0, 2], camera.K[1, 2]
    # the principal point lies on the pixel corner between four pixels: average them
    centre = depth[int(v) - 1 : int(v) + 1, int(u) - 1 : int(u) + 1].mean()
    assert abs(centre - optical_axis_depth_to_table(camera)) < 0.01
    assert np.all(depth_to_millimetres(depth) >= 0)


def test_camera_projection_matches_camera_info_with_off_centre_principal_point():
    camera = CameraConfig.for_robot(get_robot("panda"), width=320, height=240, fx=290.0, fy=270.0, cx=171.0, cy=112.0)
    spec = build_scene(get_robot("panda"), camera)
    marks = np.array([[0.45, 0.2, 0.02], [0.7, -0.25, 0.02], [0.55, 0.0, 0.3]])
    for i, p in enumerate(marks):
        spec.worldbody.add_geom(name=f"mark{i}", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.012, 0, 0],
                                pos=p.tolist(), rgba=[1, 0, 0, 1], contype=0, conaffinity=0)
    model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    renderer = SceneRenderer(model, camera)
    _, depth = renderer.render(data.qpos)
    renderer.close()
    seg = mujoco.Renderer(model, camera.height, camera.width)
    seg.enable_segmentation_rendering()
    seg.update_scene(data, camera=camera.name)
    ids = seg.render()[:, :, 0]
    seg.close()
    expected = camera.project(marks)
    for i in range(len(marks)):
        v, u = np.nonzero(ids == model.geom(f"mark{i}").id)
        assert len(u) > 5, f"mark {i} not visible"
        assert abs(u.mean() + 0.5 - expected[i, 0]) < 1.0 and abs(v.mean() + 0.5 - expected[i, 1]) < 1.0
        # the sphere's nearest surface is within its radius of its centre's depth
        assert -0.015 < expected[i, 2] - depth[v, u].min() < 0.015


def test_position_command_reaches_target_within_velocity_limit():
    sim = MujocoSim(get_robot("xarm7"))
    target = sim.arm_qpos + np.array([0.4, -0.3, 0.2, 0.3, -0.2, 0.3, 0.5])
    sim.command(sim.robot.arm_joints, target)
    act = [sim.model.actuator(j).id for j in sim.robot.arm_joints]
    previous = sim.data.ctrl[act].copy()
    for _ in range(2500):
        sim.step()
        assert np.all(np.abs(sim.data.ctrl[act] - previous) <= sim.limits.velocity * sim.timestep + 1e-12)
        previous = sim.data.ctrl[act].copy()
    assert np.degrees(np.abs(sim.arm_qpos - target)).max() < 1.0


def test_commands_in_any_joint_order_are_reordered():
    sim = MujocoSim(get_robot("wx250s"))
    target = sim.arm_qpos + 0.1 * np.arange(1, 7)
    order = list(reversed(range(6)))
    sim.command([sim.robot.arm_joints[i] for i in order], target[order])
    sim.step(2000)
    assert np.degrees(np.abs(sim.arm_qpos - target)).max() < 1.0


@pytest.mark.parametrize(
    "names_fn, values_fn, message",
    [
        (lambda j: j[:-1], lambda q: q[:-1], "do not match"),
        (lambda j: ["shoulder_pan", *j[1:]], lambda q: q, "do not match"),
        (lambda j: j, lambda q: q[:-1], "joint names but"),
        (lambda j: j, lambda q: np.where(np.arange(len(q)) == 2, np.nan, q), "not finite"),
        (lambda j: j, lambda q: np.where(np.arange(len(q)) == 0, np.inf, q), "not finite"),
        (lambda j: j, lambda q: q + np.where(np.arange(len(q)) == 1, 200.0, 0.0), "outside the limits"),
    ],
)
def test_bad_commands_are_rejected_and_the_last_command_holds(names_fn, values_fn, message):
    for name in ("xarm7", "panda"):
        sim = MujocoSim(get_robot(name))
        good = sim.arm_qpos + 0.05 if name == "xarm7" else np.full(7, 0.5)
        sim.command(sim.robot.arm_joints, good)
        sim.step(10)
        ctrl_before = sim.data.ctrl.copy()
        with pytest.raises(CommandRefused, match=message):
            sim.command(names_fn(list(sim.robot.arm_joints)), values_fn(good.copy()))
        sim.step(1)
        if name == "panda":
            assert np.allclose(sim.data.ctrl, ctrl_before), "the last good torque stays applied"
        assert np.all(np.isfinite(sim.data.qpos))


def test_stale_effort_stream_stops_the_arm_where_it_is():
    sim = MujocoSim(get_robot("panda"), effort_timeout=0.05)
    torque = np.array([3.0, 0, 0, 2.0, 0, 0, 0])
    sim.command(sim.robot.arm_joints, torque)
    sim.step(40)
    act = [sim.model.actuator(j).id for j in sim.robot.arm_joints]
    assert np.allclose(sim.data.ctrl[act], torque)
    sim.step(300)  # the stream lapsed 0.26 s ago
    q_stopped = sim.arm_qpos
    sim.step(1000)
    assert np.abs(sim.arm_qpos - q_stopped).max() < 2e-3
    assert np.abs(sim.data.qvel[:7]).max() < 1e-3


def test_panda_holds_still_under_a_stream_of_zero_torques():
    sim = MujocoSim(get_robot("panda"))
    start = sim.arm_qpos
    for _ in range(300):  # 3 s of zero torque at 100 Hz
        sim.command(sim.robot.arm_joints, np.zeros(7))
        sim.step(10)
    assert np.abs(sim.arm_qpos - start).max() < 1e-4


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_gripper_closes_and_opens(name):
    sim = MujocoSim(get_robot(name))
    assert sim.gripper_opening == pytest.approx(1.0, abs=0.02)
    sim.command_gripper(0.0)
    sim.step(1500)
    assert sim.gripper_opening < 0.05
    sim.command_gripper(1.0)
    sim.step(1500)
    assert sim.gripper_opening > 0.95
    with pytest.raises(CommandRefused, match="not finite"):
        sim.command_gripper(float("nan"))


def test_reset_returns_home_at_rest():
    sim = MujocoSim(get_robot("wx250"))
    home = sim.arm_qpos
    sim.command(sim.robot.arm_joints, home + 0.3)
    sim.step(500)
    sim.reset()
    assert np.allclose(sim.arm_qpos, home) and np.allclose(sim.data.qvel, 0)


@pytest.mark.parametrize("name", ["panda", "xarm7"])
def test_after_a_reset_with_hold_the_arm_keeps_home_against_stale_commands(name):
    """A controller still tracking the pre-reset pose must not drag the teleported arm back."""
    sim = MujocoSim(get_robot(name))
    home = sim.arm_qpos
    stale = np.full(sim.robot.dof, 10.0) if sim.robot.command_interface == "effort" else home + 0.3
    sim.reset(hold=0.3)
    for _ in range(25):  # 0.25 s of stale commands at 100 Hz
        sim.command(sim.robot.arm_joints, stale)
        sim.step(10)
    assert np.abs(sim.arm_qpos - home).max() < 2e-3
    for _ in range(20):  # past the hold, commands act again
        sim.command(sim.robot.arm_joints, stale)
        sim.step(10)
    assert np.abs(sim.arm_qpos - home).max() > 0.02


def test_physics_rate_below_500_hz_is_refused():
    with pytest.raises(ValueError, match="500 Hz"):
        MujocoSim(get_robot("panda"), physics_rate=200)


def test_missing_gl_library_error_names_the_packages(monkeypatch):
    monkeypatch.setattr(rendering.ctypes.util, "find_library", lambda name: None)
    env = {}
    with pytest.raises(rendering.RenderBackendError, match="libegl1.*libosmesa6"):
        rendering.configure_gl_backend(env)
    with pytest.raises(rendering.RenderBackendError, match="not a headless backend"):
        rendering.configure_gl_backend({"MUJOCO_GL": "glfw"})


def test_camera_config_rejects_degenerate_views():
    with pytest.raises(ValueError, match="straight up or down"):
        CameraConfig(position=(0.5, 0, 1.0), look_at=(0.5, 0, 0))
    with pytest.raises(ValueError, match="too small"):
        CameraConfig(width=4, height=4)


def test_pacer_holds_the_period_and_reanchors_after_a_stall():
    now = [0.0]
    clock = lambda: now[0]  # noqa: E731 - a manual clock: the pacer's logic, not the OS scheduler
    pacer = RealTimePacer(0.01, clock=clock)
    now[0] = 0.5  # a 0.5 s stall
    pacer.wait()
    assert pacer.overruns == 1
    assert pacer._deadline == pytest.approx(0.51)
