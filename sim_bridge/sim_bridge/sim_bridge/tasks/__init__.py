"""The task suite. `make_task(name, robot)` builds one; TASKS lists them with the robots that can do them."""

from __future__ import annotations

from polyarm_description import RobotProfile

from sim_bridge.tasks.base import ObjectSpace, Task, TaskError
from sim_bridge.tasks.drawer import CloseDrawer, OpenDrawer, TakeOutOfClosedDrawer, TakeOutOfDrawer
from sim_bridge.tasks.pick import Pick
from sim_bridge.tasks.place_in_tray import PlaceInTray
from sim_bridge.tasks.press_button import PressButton
from sim_bridge.tasks.reach import Reach

TASKS: dict[str, type[Task]] = {
    t.name: t
    for t in (Reach, PressButton, Pick, PlaceInTray, OpenDrawer, CloseDrawer, TakeOutOfDrawer, TakeOutOfClosedDrawer)
}


def make_task(name: str, robot: RobotProfile, area_cm2: float = 360.0, density: float = 10.0) -> Task:
    if name not in TASKS:
        raise TaskError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    task_type = TASKS[name]
    if robot.name not in task_type.robots():
        raise TaskError(f"the {robot.name} cannot do {name}; robots that can: {', '.join(task_type.robots())}")
    return task_type(robot, ObjectSpace(task_type.object_space_center(robot.name), area_cm2, density))


__all__ = ["TASKS", "ObjectSpace", "Task", "TaskError", "make_task"]
