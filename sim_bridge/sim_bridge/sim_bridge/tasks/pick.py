"""pick: grasp a small shed-like block from the table and lift it (the SAC-CQL-SI paper's pick-shed)."""

from __future__ import annotations

import mujoco
from polyarm_description.objects import SHED_HALF_SIZE as HALF_SIZE
from polyarm_description.objects import SHED_SHAPE

from sim_bridge.tasks.base import OBJECT_CONAFFINITY, OBJECT_CONTYPE, Task

LIFTED_ABOVE = 0.06  # m, block centre height that counts as lifted (4 cm off the table)


class Pick(Task):
    name = "pick"
    object_body = "shed"
    default_episode_length = 30

    def build(self, spec):
        add_shed(spec)

    def reset(self, model, data, rng):
        place_shed(model, data, self.object_space.sample(rng))

    def success(self, model, data, tcp_position):
        return bool(data.body("shed").xpos[2] > LIFTED_ABOVE)


def add_shed(spec) -> None:
    """The shed-like block: 3.5 cm, light, grippy, with a roof so it reads as a shed in the image."""
    shed = spec.worldbody.add_body(name="shed")
    shed.add_freejoint(name="shed_joint")
    box = mujoco.mjtGeom.mjGEOM_BOX
    block, roof = SHED_SHAPE
    shed.add_geom(type=box, size=list(block.half_size), density=400.0, friction=[1.5, 0.01, 0.001],
                  rgba=[0.2, 0.35, 0.85, 1], contype=OBJECT_CONTYPE, conaffinity=OBJECT_CONAFFINITY, condim=4)
    shed.add_geom(type=box, size=list(roof.half_size), pos=list(roof.pos), euler=list(roof.euler),
                  rgba=[0.7, 0.2, 0.15, 1], contype=0, conaffinity=0, mass=0.001)


def place_shed(model, data, position) -> None:
    """Put the shed at rest at `position` (x, y, or x, y, z of its bottom face)."""
    x, y, *z = position
    adr, dof = model.joint("shed_joint").qposadr[0], model.joint("shed_joint").dofadr[0]
    data.qpos[adr : adr + 7] = [x, y, (z[0] if z else 0.0) + HALF_SIZE + 0.0005, 1, 0, 0, 0]
    data.qvel[dof : dof + 6] = 0.0
