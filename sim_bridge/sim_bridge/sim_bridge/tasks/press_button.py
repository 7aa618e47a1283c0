"""press-button: push a spring-loaded button on the table down (the SAC-CQL-SI paper's easiest task)."""

from __future__ import annotations

import mujoco

from sim_bridge.tasks.base import OBJECT_CONAFFINITY, OBJECT_CONTYPE, Task

BASE_HALF_HEIGHT = 0.02
CAP_TRAVEL = 0.015
PRESSED_BELOW = -0.008  # m of cap travel that counts as pressed


class PressButton(Task):
    name = "press_button"
    object_body = "button_base"

    def build(self, spec):
        box, cyl = mujoco.mjtGeom.mjGEOM_BOX, mujoco.mjtGeom.mjGEOM_CYLINDER
        base = spec.worldbody.add_body(name="button_base", mocap=True)
        base.add_geom(type=box, size=[0.035, 0.035, BASE_HALF_HEIGHT], pos=[0, 0, BASE_HALF_HEIGHT],
                      rgba=[0.3, 0.3, 0.35, 1], contype=OBJECT_CONTYPE, conaffinity=OBJECT_CONAFFINITY)
        cap = base.add_body(name="button_cap", pos=[0, 0, 2 * BASE_HALF_HEIGHT + 0.01])
        cap.add_joint(name="button_joint", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[0, 0, 1], range=[-CAP_TRAVEL, 0],
                      stiffness=150.0, springref=0.002, damping=3.0)
        cap.add_geom(type=cyl, size=[0.022, 0.01, 0], mass=0.01, rgba=[0.85, 0.1, 0.1, 1],
                     contype=OBJECT_CONTYPE, conaffinity=OBJECT_CONAFFINITY)

    def reset(self, model, data, rng):
        xy = self.object_space.sample(rng)
        data.mocap_pos[model.body("button_base").mocapid[0]] = [xy[0], xy[1], 0.0]
        data.qpos[model.joint("button_joint").qposadr[0]] = 0.0

    def pressed_depth(self, model, data) -> float:
        return float(data.qpos[model.joint("button_joint").qposadr[0]])

    def success(self, model, data, tcp_position):
        return self.pressed_depth(model, data) < PRESSED_BELOW

    @staticmethod
    def cap_top_height() -> float:
        return 2 * BASE_HALF_HEIGHT + 0.02
