"""The pybullet backend against the MuJoCo one: physics steps per second, render fps, the sim node's
real-time factor while it streams 320x240 at 15 Hz, and the controller's 5 cm + 15° step in each engine
(the sim-to-sim gap of the controller itself).

Peers, same run, same robot: MujocoSim (the other engine), and bare `pybullet.stepSimulation` on the
same URDF (the ratio is PybulletSim's per-step overhead: motors, gravcomp forces and the armature).
Rendering and the node run the pick scene (table, shed) in both engines: MuJoCo's renderer on EGL or
OSMesa, pybullet's TinyRenderer in software; each frame is RGB and depth.

    .venv/bin/python bench/bench_pybullet.py [--robots panda xarm7 ...] [--node-seconds 10]
"""

from __future__ import annotations

import argparse
import math
import time

from sim_bridge.rendering import configure_gl_backend

configure_gl_backend()

import numpy as np  # noqa: E402
import pybullet as pb  # noqa: E402
from polyarm_core.rotations import angle_between, from_rotation_vector  # noqa: E402
from polyarm_description import ROBOTS, get_robot  # noqa: E402
from polyarm_description.urdf import urdf_path  # noqa: E402
from sim_bridge.camera import CameraConfig  # noqa: E402
from sim_bridge.controlled import ControlledSim  # noqa: E402
from sim_bridge.mujoco_sim import MujocoSim  # noqa: E402
from sim_bridge.pybullet_sim import PybulletSim  # noqa: E402
from sim_bridge.tasks import make_task  # noqa: E402

RESOLUTIONS = [(48, 48), (320, 240), (640, 480)]


def steps_per_s(sim, steps: int = 5000) -> float:
    hold = sim.arm_qpos if sim.robot.command_interface == "position" else np.zeros(sim.robot.dof)
    sim.command(sim.robot.arm_joints, hold)
    t0 = time.perf_counter()
    sim.step(steps)
    return steps / (time.perf_counter() - t0)


def bare_pybullet_steps_per_s(robot, steps: int = 5000) -> float:
    client = pb.connect(pb.DIRECT)
    pb.setGravity(0, 0, -9.81, physicsClientId=client)
    pb.setTimeStep(0.001, physicsClientId=client)
    pb.loadURDF(str(urdf_path(robot)), useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=client)
    t0 = time.perf_counter()
    for _ in range(steps):
        pb.stepSimulation(physicsClientId=client)
    rate = steps / (time.perf_counter() - t0)
    pb.disconnect(client)
    return rate


def render_fps(sim_type, robot, width: int, height: int, frames: int = 40) -> float:
    """RGB and depth frames per second of the pick scene in `sim_type`'s own renderer."""
    camera = CameraConfig.for_robot(robot, width=width, height=height)
    sim = sim_type(robot, camera, task=make_task("pick", robot))
    renderer = sim.renderer(camera)
    state = (sim.data.qpos.copy(), sim.data.mocap_pos.copy(), sim.data.mocap_quat.copy())
    renderer.render(*state)
    t0 = time.perf_counter()
    for _ in range(frames):
        renderer.render(*state)
    fps = frames / (time.perf_counter() - t0)
    renderer.close()
    sim.close()
    return fps


def step_response(robot, sim) -> list[tuple[float, float]]:
    """(mm, degrees) from the target at 0.5, 1.0 and 1.5 s after a 5 cm + 15° step."""
    cs = ControlledSim(robot, sim=sim)
    p0, R0 = cs.tcp()
    target_p = p0 + np.array([0.03, 0.03, -0.028])
    target_R = from_rotation_vector(np.radians(15) * np.array([0.0, 0.0, 1.0])) @ R0
    cs.set_target(target_p, target_R)
    errors = []
    for _ in range(3):
        cs.run(0.5)
        p, R = cs.tcp()
        errors.append((1e3 * np.linalg.norm(p - target_p), math.degrees(angle_between(R, target_R))))
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", nargs="+", default=sorted(ROBOTS), choices=sorted(ROBOTS))
    parser.add_argument("--node-seconds", type=float, default=10.0, help="measurement window of the running node")
    args = parser.parse_args()
    print("| robot | MuJoCo steps/s | PybulletSim steps/s | bare pybullet steps/s | PybulletSim / bare | PybulletSim / MuJoCo |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.robots:
        robot = get_robot(name)
        mj, pyb = MujocoSim(robot), PybulletSim(robot)
        ours_mj, ours_pb, bare = steps_per_s(mj), steps_per_s(pyb), bare_pybullet_steps_per_s(robot)
        pyb.close()
        print(f"| {name} | {ours_mj:,.0f} | {ours_pb:,.0f} | {bare:,.0f} | {ours_pb / bare:.2f} | {ours_pb / ours_mj:.2f} |")
    print("\nRendering, RGB + depth frames/s of the pick scene (pybullet / MuJoCo in brackets)\n")
    print("| robot | " + " | ".join(f"{w}x{h} MuJoCo | {w}x{h} pybullet" for w, h in RESOLUTIONS) + " |")
    print("|---|" + "---:|---:|" * len(RESOLUTIONS))
    for name in args.robots:
        robot, cells = get_robot(name), []
        for w, h in RESOLUTIONS:
            mj, pyb = render_fps(MujocoSim, robot, w, h), render_fps(PybulletSim, robot, w, h)
            cells += [f"{mj:.0f}", f"{pyb:.0f} ({pyb / mj:.2f})"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\nThe sim node with the pick task, streaming 320x240 RGB + depth at 15 Hz, {args.node_seconds:.0f} s window\n")
    print("| robot | engine | RTF mean | RTF min | joint_states Hz | camera Hz | render ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    import rclpy
    from bench_sim import node_real_time_factor  # sets the ROS environment before rclpy loads

    rclpy.init()
    for name in args.robots:
        for engine in ("mujoco", "pybullet"):
            r = node_real_time_factor(name, args.node_seconds, "--backend", engine, "--task", "pick")
            print(f"| {name} | {engine} | {r['rtf_mean']:.3f} | {r['rtf_min']:.3f} | {r['joint_states_hz']:.1f} | "
                  f"{r['camera_hz']:.1f} | {r['render_ms']:.1f} |", flush=True)
    rclpy.shutdown()
    print("\nThe controller's 5 cm + 15° step (mm / degrees from the target; the issue asks 3 mm and 1° at 1.5 s)\n")
    print("| robot | engine | 0.5 s | 1.0 s | 1.5 s |")
    print("|---|---|---:|---:|---:|")
    for name in args.robots:
        robot = get_robot(name)
        for engine, sim in (("MuJoCo", MujocoSim(robot)), ("pybullet", PybulletSim(robot))):
            cells = " | ".join(f"{mm:.1f} / {deg:.2f}" for mm, deg in step_response(robot, sim))
            print(f"| {name} | {engine} | {cells} |")
            if isinstance(sim, PybulletSim):
                sim.close()


if __name__ == "__main__":
    main()
