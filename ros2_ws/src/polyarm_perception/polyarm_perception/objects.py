"""The shape of each task's object, from the task that builds it in the sim (one definition for both)."""

from __future__ import annotations

from sim_bridge.tasks import TASKS


def object_shape(task: str):
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    shape = TASKS[task].object_shape
    if not shape:
        findable = [name for name, t in TASKS.items() if t.object_shape]
        raise ValueError(f"perception has no template for the {task} task's object; tasks it can find: {', '.join(findable)}")
    return shape
