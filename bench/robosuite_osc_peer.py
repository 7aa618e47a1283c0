"""robosuite's OSC_POSE controller on polyarm's Panda model, for bench_controller.py --robosuite-python.

Runs in a separate environment (robosuite 1.5.2 needs MuJoCo 3.3; polyarm uses MuJoCo 4):
    python robosuite_osc_peer.py PANDA_MJCF OUT_JSON
It imports nothing of polyarm: the model comes as MJCF, the trajectory from figure_eight.py.
Gravity: polyarm's sim compensates the Panda's gravity as libfranka does; robosuite adds gravity to
its torque itself, so body gravcomp is switched off here and the physics is otherwise the same.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import mujoco
import numpy as np
from robosuite.controllers.parts.arm.osc import OperationalSpaceController
from robosuite.utils.binding_utils import MjSim

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figure_eight import PERIOD_S, SIZE_M, figure_eight  # noqa: E402

JOINTS = [f"panda_joint{i}" for i in range(1, 8)]
HOME = [0, -0.785398, 0, -2.356194, 0, 1.570796, 0.785398]


def main(mjcf: str, out_json: str, loops: int = 2) -> None:
    # robosuite reads the base's velocity from a site "<prefix><part>_center": give it one at the fixed base
    xml = Path(mjcf).read_text().replace('<body name="base_link" childclass="panda">',
                                         '<body name="base_link" childclass="panda"><site name="robot0_right_center"/>', 1)
    sim = MjSim.from_xml_string(xml)
    m, d = sim.model._model, sim.data._data
    m.body_gravcomp[:] = 0.0
    qpos = [m.joint(j).qposadr[0] for j in JOINTS]
    qvel = [m.joint(j).dofadr[0] for j in JOINTS]
    act = [m.actuator(j).id for j in JOINTS]
    d.qpos[qpos] = HOME
    d.qpos[[m.joint("panda_finger_joint1").qposadr[0], m.joint("panda_finger_joint2").qposadr[0]]] = 0.04
    d.ctrl[m.actuator("gripper").id] = 0.04
    mujoco.mj_forward(m, d)
    ctrl_range = (m.actuator_ctrlrange[act, 0], m.actuator_ctrlrange[act, 1])
    osc = OperationalSpaceController(
        sim, ref_name="tcp", joint_indexes={"joints": [m.joint(j).id for j in JOINTS], "qpos": qpos, "qvel": qvel}, actuator_range=ctrl_range,
        kp=150, damping_ratio=1, input_type="absolute", input_ref_frame="base", control_ori=True, policy_freq=2,
        position_limits=None, orientation_limits=None, lite_physics=False, naming_prefix="robot0_", part_name="right",
    )
    osc.update_origin(np.zeros(3), np.eye(3))  # base_link is the world origin of the scene
    center = d.site("tcp").xpos.copy()
    R = d.site("tcp").xmat.reshape(3, 3).copy()
    rotvec = np.zeros(3)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, R.ravel())
    mujoco.mju_quat2Vel(rotvec, quat, 1.0)
    m.opt.timestep = 0.001  # polyarm's sim runs physics at 1 kHz
    substeps = round(0.01 / m.opt.timestep)
    errors, lagged, compute, tcp = [], [], [], []
    size = SIZE_M["panda"]
    for k in range(int(loops * PERIOD_S * 100)):
        t = k * 0.01
        if k % 50 == 0:
            osc.set_goal(np.concatenate([figure_eight(center, t, size), rotvec]))
        t0 = time.perf_counter()
        torque = osc.run_controller()
        compute.append(time.perf_counter() - t0)
        d.ctrl[act] = torque
        for _ in range(substeps):
            mujoco.mj_step(m, d)
        if t >= 1.0:
            p = d.site("tcp").xpos.copy()
            tcp.append(p)
            errors.append(np.linalg.norm(p - figure_eight(center, t, size)))
            lagged.append(np.linalg.norm(p - figure_eight(center, t - 0.5, size)))
    errors, lagged = np.array(errors), np.array(lagged)
    accel = np.linalg.norm(np.diff(np.array(tcp), n=2, axis=0), axis=1) / 0.01**2
    Path(out_json).write_text(json.dumps({
        "rms_mm": 1e3 * float(np.sqrt(np.mean(errors**2))), "max_mm": 1e3 * float(errors.max()),
        "rms_lag_mm": 1e3 * float(np.sqrt(np.mean(lagged**2))),
        "compute_us": 1e6 * float(np.median(compute)), "mujoco": mujoco.__version__,
        "accel_rms": float(np.sqrt(np.mean(accel**2))), "accel_max": float(accel.max()),
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
