"""reach: bring the TCP to a goal marker above the table."""

from __future__ import annotations

import mujoco
import numpy as np

from sim_bridge.tasks.base import Task

GOAL_RADIUS_M = 0.03  # success: the TCP within this of the goal
GOAL_HEIGHT_M = (0.06, 0.2)


class Reach(Task):
    name = "reach"
    object_body = "goal"

    def build(self, spec):
        goal = spec.worldbody.add_body(name="goal", mocap=True)
        goal.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.015, 0, 0], rgba=[0.1, 0.8, 0.2, 0.8],
                      contype=0, conaffinity=0)

    def reset(self, model, data, rng):
        xy = self.object_space.sample(rng)
        data.mocap_pos[model.body("goal").mocapid[0]] = [xy[0], xy[1], rng.uniform(*GOAL_HEIGHT_M)]

    def success(self, model, data, tcp_position):
        return bool(np.linalg.norm(tcp_position - data.body("goal").xpos) < GOAL_RADIUS_M)
