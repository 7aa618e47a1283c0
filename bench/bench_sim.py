"""Sim bridge benchmark: physics steps/s, render fps, and the real-time factor of the running node.

    .venv/bin/python bench/bench_sim.py [--robots panda xarm7 ...] [--node-seconds 10]

Peers, measured in the same run on the same model: bare `mujoco.mj_step` for physics (the
ratio is polyarm's per-step overhead: command handling and the servo velocity limit), and a bare
RGB `mujoco.Renderer` for rendering (polyarm renders RGB and depth for every frame).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

from polyarm_common.graph import Collector, spin_for, spin_until  # noqa: E402
from polyarm_common.processes import start_polyarm, stop  # noqa: E402
from polyarm_common.ros_env import configure_ros_environment  # noqa: E402
from sim_bridge.rendering import configure_gl_backend  # noqa: E402

configure_ros_environment()
configure_gl_backend()

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from polyarm_description import ROBOTS, get_robot  # noqa: E402
from sim_bridge.camera import CameraConfig  # noqa: E402
from sim_bridge.mujoco_sim import MujocoSim, SceneRenderer  # noqa: E402

RESOLUTIONS = [(64, 64), (320, 240), (640, 480)]


def physics_steps_per_s(robot: str, steps: int = 20000) -> tuple[float, float]:
    sim = MujocoSim(get_robot(robot))
    sim.command(sim.robot.arm_joints, sim.arm_qpos if sim.robot.command_interface == "position" else np.zeros(sim.robot.dof))
    t0 = time.perf_counter()
    sim.step(steps)
    ours = steps / (time.perf_counter() - t0)
    model, data = sim.model, mujoco.MjData(sim.model)
    data.qpos[:] = sim.data.qpos
    t0 = time.perf_counter()
    for _ in range(steps):
        mujoco.mj_step(model, data)
    bare = steps / (time.perf_counter() - t0)
    return ours, bare


def render_fps(robot: str, width: int, height: int, frames: int = 60) -> tuple[float, float]:
    camera = CameraConfig.for_robot(get_robot(robot), width=width, height=height)
    sim = MujocoSim(get_robot(robot), camera)
    renderer = SceneRenderer(sim.model, camera)
    renderer.render(sim.data.qpos)
    t0 = time.perf_counter()
    for _ in range(frames):
        renderer.render(sim.data.qpos)
    ours = frames / (time.perf_counter() - t0)
    renderer.close()
    bare = mujoco.Renderer(sim.model, height, width)
    bare.update_scene(sim.data, camera=camera.name)
    bare.render()
    t0 = time.perf_counter()
    for _ in range(frames):
        bare.update_scene(sim.data, camera=camera.name)
        bare.render()
    rgb_only = frames / (time.perf_counter() - t0)
    bare.close()
    return ours, rgb_only


def node_real_time_factor(robot: str, seconds: float, *extra: str) -> dict:
    """Start `polyarm sim` (320x240 at 15 Hz, and `extra` arguments) and read its /diagnostics and stream
    rates from outside."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from polyarm_common.qos import SENSOR, STATE
    from sensor_msgs.msg import Image, JointState

    proc = start_polyarm("sim", "--robot", robot, "--width", "320", "--height", "240", "--camera-rate", "15", *extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    node = rclpy.create_node(f"bench_{robot}")
    try:
        states = Collector(node, JointState, "joint_states", STATE)
        images = Collector(node, Image, "camera/color/image_raw", SENSOR)
        diagnostics = Collector(node, DiagnosticArray, "/diagnostics", STATE)
        spin_until(node, lambda: len(images.messages) > 3 and diagnostics.messages, 60, "the sim to stream")
        for c in (states, images, diagnostics):
            c.clear()
        spin_for(node, seconds)
        values = [{kv.key: float(kv.value) for kv in d.status[0].values} for d in diagnostics.messages]
        rtf = np.array([v["real_time_factor"] for v in values])
        render = np.array([v["render_ms_mean"] for v in values if v["render_ms_mean"] > 0])
        return {
            "rtf_mean": rtf.mean(), "rtf_min": rtf.min(),
            "joint_states_hz": states.rate_hz(),
            "camera_hz": images.rate_hz(),
            "render_ms": render.mean() if render.size else float("nan"),
        }
    finally:
        node.destroy_node()
        stop(proc, timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", nargs="+", default=sorted(ROBOTS), choices=sorted(ROBOTS))
    parser.add_argument("--node-seconds", type=float, default=10.0, help="measurement window of the running node")
    args = parser.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    print(f"MuJoCo {mujoco.__version__}, MUJOCO_GL={os.environ['MUJOCO_GL']}, {os.cpu_count()} CPUs\n")

    print("Physics, headless (1 kHz timestep)")
    print(f"{'robot':<8} {'polyarm steps/s':>16} {'bare mj_step/s':>15} {'ratio':>6} {'x real time':>12}")
    for robot in args.robots:
        ours, bare = physics_steps_per_s(robot)
        print(f"{robot:<8} {ours:>16,.0f} {bare:>15,.0f} {ours / bare:>6.2f} {ours / 1000:>12.0f}")

    print("\nRendering, frames/s (polyarm: RGB + depth per frame; peer: bare RGB-only Renderer)")
    header = "".join(f"{f'{w}x{h}':>22}" for w, h in RESOLUTIONS)
    print(f"{'robot':<8}{header}")
    for robot in args.robots:
        cells = []
        for w, h in RESOLUTIONS:
            ours, rgb = render_fps(robot, w, h)
            cells.append(f"{ours:>7.1f} / {rgb:>6.1f} ({ours / rgb:.2f})")
        print(f"{robot:<8}" + "".join(f"{c:>22}" for c in cells))

    import rclpy

    rclpy.init()
    print(f"\nRunning node, 320x240 RGB + depth at 15 Hz, {args.node_seconds:.0f} s window")
    print(f"{'robot':<8} {'RTF mean':>9} {'RTF min':>8} {'joint_states Hz':>16} {'camera Hz':>10} {'render ms':>10}")
    for robot in args.robots:
        r = node_real_time_factor(robot, args.node_seconds)
        print(f"{robot:<8} {r['rtf_mean']:>9.3f} {r['rtf_min']:>8.3f} {r['joint_states_hz']:>16.1f} "
              f"{r['camera_hz']:>10.1f} {r['render_ms']:>10.1f}")
    rclpy.shutdown()


if __name__ == "__main__":
    main()
