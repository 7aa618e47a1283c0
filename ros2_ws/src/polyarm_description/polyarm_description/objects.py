"""The task objects' shapes: what the sim builds as geoms and what perception samples its template from
(polyarm_perception.template), one definition for both so they cannot drift. Plain Python."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    """One box of an object's shape, in the object's body frame."""

    half_size: tuple[float, float, float]  # m
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)  # m
    euler: tuple[float, float, float] = (0.0, 0.0, 0.0)  # rad, MuJoCo's default intrinsic x-y-z sequence


SHED_HALF_SIZE = 0.0175  # a 3.5 cm block: every gripper of the four arms closes on it
# The block, and a roof plate tilted over its top so it reads as a shed in the image.
SHED_SHAPE = (
    Box((SHED_HALF_SIZE,) * 3),
    Box((SHED_HALF_SIZE * 0.72, SHED_HALF_SIZE * 1.02, 0.004), pos=(0.0, 0.0, SHED_HALF_SIZE + 0.004), euler=(0.0, 0.6, 0.0)),
)

# task: the shape of the object it is about (sim_bridge's tasks take theirs from here); a task not listed
# has no object perception can find (reach's goal, the button, the drawer).
TASK_OBJECTS = {
    "pick": SHED_SHAPE,
    "place_in_tray": SHED_SHAPE,
    "take_out_of_drawer": SHED_SHAPE,
    "take_out_of_closed_drawer": SHED_SHAPE,
}


def object_shape(task: str) -> tuple[Box, ...]:
    """The boxes of `task`'s object (raises ValueError naming the tasks whose object can be found)."""
    if task not in TASK_OBJECTS:
        raise ValueError(f"perception has no template for the {task!r} task's object; tasks it can find: "
                         f"{', '.join(TASK_OBJECTS)}")
    return TASK_OBJECTS[task]
