"""Scripted data-collection policies, written from COG's Algorithms 1-3 and the SAC-CQL-SI paper's tasks.

They read the ground truth (object and TCP positions) the way COG's scripted policies are "supplied
with the object's coordinates", act in the env's own normalized action space, add Gaussian noise
(sigma 0.2 by default) to every action, randomize their thresholds per episode, and return to the
neutral pose with COG's 8th action once their behaviour is done.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from sim_bridge.tasks.pick import HALF_SIZE
from sim_bridge.tasks.press_button import PressButton

GRIPPER_OPEN, GRIPPER_CLOSE, GRIPPER_KEEP = 1.0, -1.0, 0.0


class ScriptedPolicy(ABC):
    """Base: phases that map (TCP, object) to an action, plus noise and the neutral return."""

    def __init__(self, env, rng: np.random.Generator, noise: float = 0.2):
        self.env, self.rng, self.noise = env, rng, noise
        self.scale = env.act.position_scale
        self.reset()

    def reset(self) -> None:
        self.phase, self.wait = "start", 0

    def __call__(self, info: dict) -> np.ndarray:
        move, gripper, neutral = self.plan(np.asarray(info["tcp_position"]), np.asarray(info["object_position"]))
        action = np.zeros(self.env.action_space.shape, dtype=np.float32)
        action[:3] = np.clip(move / self.scale, -1, 1) + self.rng.normal(0, self.noise, 3)
        action[3:6] = self.rng.normal(0, self.noise, 3) * 0.25  # keep the orientation, but not perfectly
        action[6] = gripper
        if action.shape[0] == 8:
            action[7] = 1.0 if neutral else -1.0
        return np.clip(action, -1, 1)

    @abstractmethod
    def plan(self, tcp: np.ndarray, obj: np.ndarray) -> tuple[np.ndarray, float, bool]:
        """(TCP displacement wanted in m, gripper action, neutral?) for this step."""


class ReachPolicy(ScriptedPolicy):
    def plan(self, tcp, goal):
        return goal - tcp, GRIPPER_KEEP, False


class PressButtonPolicy(ScriptedPolicy):
    """Close the fingers, hover above the cap, push down through it, then go back to neutral."""

    def reset(self):
        super().reset()
        self.hover = self.rng.normal(0.07, 0.01)
        self.press_depth = self.rng.normal(0.025, 0.005)  # below the cap top, fingertips reach further

    def plan(self, tcp, base):
        cap = base + np.array([0, 0, PressButton.cap_top_height()])
        if self.phase == "start":
            self.phase = "hover"
        if self.phase == "hover":
            target = cap + np.array([0, 0, self.hover])
            if np.linalg.norm((target - tcp)[:2]) < 0.01 and abs((target - tcp)[2]) < 0.02:
                self.phase = "press"
            return target - tcp, GRIPPER_CLOSE, False
        if self.phase == "press":
            self.wait += 1
            if self.wait > 3:
                self.phase = "neutral"
            return cap - np.array([0, 0, self.press_depth]) - tcp, GRIPPER_CLOSE, False
        if self.phase == "neutral":
            self.phase = "done"
            return np.zeros(3), GRIPPER_KEEP, True
        return np.zeros(3), GRIPPER_KEEP, False


class GraspPolicy(ScriptedPolicy):
    """COG Algorithm 1: move toward the object (above it, then down to it), close the gripper once
    within a randomized distance of it, lift above a randomized height, then hold (Algorithm 1 ends
    with zero actions)."""

    GRASPING = ("start", "approach", "descend", "close", "lift")  # the phases before the object is held

    def reset(self):
        super().reset()
        self.close_within = float(np.clip(self.rng.normal(0.015, 0.005), 0.005, 0.03))
        self.lift_to = self.rng.normal(0.14, 0.01)

    @staticmethod
    def grasp_point(obj: np.ndarray) -> np.ndarray:
        """Where the TCP closes on the block: just above its centre."""
        return obj + np.array([0, 0, 0.6 * HALF_SIZE])

    def plan(self, tcp, obj):
        grasp_point = self.grasp_point(obj)
        above = grasp_point + np.array([0, 0, 0.08])
        # A phase hands over in the step its condition first holds, so each recorded state is labelled with
        # the action Algorithm 1 gives that state. (With a step's lag, states already within reach of the
        # grasp point were labelled "open, descend" more often than "close", and BC learnt neither.)
        if self.phase == "start":
            self.phase = "approach"
        if self.phase == "approach" and np.linalg.norm((above - tcp)[:2]) < 0.012:
            self.phase = "descend"
        if self.phase == "descend" and np.linalg.norm(grasp_point - tcp) < self.close_within:
            self.phase = "close"
        if self.phase == "close" and self.wait >= 2:
            self.phase = "lift"
        if self.phase == "lift" and tcp[2] > self.lift_to:
            self.phase = "hold"
        if self.phase == "approach":
            return above - tcp, GRIPPER_OPEN, False
        if self.phase == "descend":
            return grasp_point - tcp, GRIPPER_OPEN, False
        if self.phase == "close":
            self.wait += 1
            return np.zeros(3), GRIPPER_CLOSE, False
        if self.phase == "lift":
            return np.array([0, 0, self.lift_to + 0.02 - tcp[2]]), GRIPPER_CLOSE, False
        return np.zeros(3), GRIPPER_CLOSE, False


class PickPlacePolicy(GraspPolicy):
    """COG Algorithm 2: grasp (Algorithm 1), carry the object above a drop point (the tray with
    probability `tray_probability`, else a random point outside it), open, return to neutral."""

    def __init__(self, env, rng, noise: float = 0.2, tray_probability: float = 1.0):
        self.tray_probability = tray_probability
        super().__init__(env, rng, noise)

    def reset(self):
        super().reset()
        tray = np.asarray(self.env.task.tray_center)
        if self.rng.random() < self.tray_probability:
            self.drop = tray + self.rng.normal(0, 0.01, 2)
        else:  # a random point on the table beside the tray
            self.drop = tray + self.rng.uniform(-1, 1, 2) * 0.05 + np.array([0.0, -0.16])
        self.drop_within = float(np.clip(self.rng.normal(0.02, 0.005), 0.008, 0.04))
        self.carry_height = self.rng.normal(0.12, 0.01)

    def plan(self, tcp, obj):
        if self.phase in self.GRASPING:
            move, gripper, _ = super().plan(tcp, obj)
            if self.phase in self.GRASPING:
                return move, gripper, False
        drop_point = np.array([*self.drop, self.carry_height])  # the object is held from here on
        if self.phase == "hold":
            self.phase = "carry"
        if self.phase == "carry" and np.linalg.norm((drop_point - tcp)[:2]) < self.drop_within:
            self.phase, self.wait = "release", 0
        if self.phase == "release" and self.wait >= 3:
            self.phase = "neutral"
        if self.phase == "carry":
            return drop_point - tcp, GRIPPER_CLOSE, False
        if self.phase == "release":
            self.wait += 1
            return np.zeros(3), GRIPPER_OPEN, False
        if self.phase == "neutral":
            self.phase = "done"
            return np.zeros(3), GRIPPER_OPEN, True
        return np.zeros(3), GRIPPER_OPEN, False


class DrawerPolicy(ScriptedPolicy):
    """COG Algorithm 3: move to the handle, pull the drawer open (or push it closed), lift clear,
    return to neutral. The closed fingers hook behind the handle bar to pull and push on its front."""

    def __init__(self, env, rng, noise: float = 0.2, open_drawer: bool = True):
        self.open_drawer = open_drawer
        super().__init__(env, rng, noise)

    def reset(self):
        super().reset()
        self.hover = self.rng.normal(0.08, 0.01)
        self.reach_within = float(np.clip(self.rng.normal(0.012, 0.003), 0.006, 0.02))

    def done(self) -> bool:
        return self.phase in ("neutral", "finished")

    def plan(self, tcp, _):
        model, data = self.env.loop.sim.model, self.env.loop.sim.data
        handle = self.env.task.handle_position(model, data)
        opening = self.env.task.opening(model, data)
        hook = handle + np.array([0.025 if self.open_drawer else -0.03, 0.0, 0.0])
        if self.phase == "start":
            self.phase = "approach"
        if self.phase == "approach":
            target = hook + np.array([0, 0, self.hover])
            if np.linalg.norm((target - tcp)[:2]) < self.reach_within:
                self.phase = "descend"
            return target - tcp, GRIPPER_CLOSE, False
        if self.phase == "descend":
            if abs(hook[2] - tcp[2]) < 0.015:
                self.phase = "move"
            return hook - tcp, GRIPPER_CLOSE, False
        if self.phase == "move":
            finished = opening > 0.12 if self.open_drawer else opening < 0.004
            if finished:
                self.phase = "lift"
            direction = -1.0 if self.open_drawer else 1.0
            return np.array([direction * 0.05, hook[1] - tcp[1], hook[2] - tcp[2]]), GRIPPER_CLOSE, False
        if self.phase == "lift":
            if tcp[2] > handle[2] + self.hover:
                self.phase = "neutral"
            return np.array([0.0, 0.0, 0.05]), GRIPPER_CLOSE, False
        if self.phase == "neutral":
            self.phase = "finished"
            return np.zeros(3), GRIPPER_OPEN, True
        return np.zeros(3), GRIPPER_OPEN, False


class TakeOutPolicy(ScriptedPolicy):
    """Open the drawer first if it is closed (Algorithm 3), then grasp the object in it and lift it
    out (Algorithm 1, lifted higher to clear the drawer's walls)."""

    def reset(self):
        super().reset()
        self.opener = DrawerPolicy(self.env, self.rng, 0.0, open_drawer=True)
        self.grasper = GraspPolicy(self.env, self.rng, 0.0)
        self.grasper.lift_to = self.rng.normal(0.22, 0.01)
        self.open_first = None  # decided on the first step, from the drawer as found

    def plan(self, tcp, obj):
        if self.open_first is None:
            model, data = self.env.loop.sim.model, self.env.loop.sim.data
            self.open_first = self.env.task.opening(model, data) < 0.1
        if self.open_first and not self.opener.done():  # open, and lift clear of the handle
            move, gripper, _ = self.opener.plan(tcp, obj)
            return move, gripper, False
        return self.grasper.plan(tcp, obj)


SCRIPTED = {
    "reach": ReachPolicy,
    "press_button": PressButtonPolicy,
    "pick": GraspPolicy,
    "place_in_tray": PickPlacePolicy,
    "open_drawer": DrawerPolicy,
    "close_drawer": lambda env, rng, noise=0.2: DrawerPolicy(env, rng, noise, open_drawer=False),
    "take_out_of_drawer": TakeOutPolicy,
    "take_out_of_closed_drawer": TakeOutPolicy,
}


def _reach_to_object(env, rng, noise=0.2):
    """Reaching for the object without grasping or pressing it: an irrelevant behaviour."""
    return ReachPolicy(env, rng, noise)


# COG's prior data: unlabelled, mixing the scene's behaviours, useful and irrelevant alike.
PRIOR_MIX = {
    "reach": [ReachPolicy],
    "press_button": [PressButtonPolicy, _reach_to_object],
    "pick": [GraspPolicy, _reach_to_object],
    "place_in_tray": [GraspPolicy, lambda env, rng, noise=0.2: PickPlacePolicy(env, rng, noise, tray_probability=0.5)],
    "open_drawer": [SCRIPTED["open_drawer"], SCRIPTED["close_drawer"]],
    "close_drawer": [SCRIPTED["open_drawer"], SCRIPTED["close_drawer"]],
    "take_out_of_drawer": [SCRIPTED["open_drawer"], SCRIPTED["close_drawer"]],  # never the object in the drawer
    "take_out_of_closed_drawer": [SCRIPTED["open_drawer"], SCRIPTED["close_drawer"]],
}


def scripted_policy(task: str, env, rng: np.random.Generator, noise: float, prior: bool) -> ScriptedPolicy:
    """The collection policy of one episode: the task's own, or for prior data one drawn from the mix."""
    if not prior:
        return SCRIPTED[task](env, rng, noise=noise)
    choices = PRIOR_MIX[task]
    return choices[int(rng.integers(len(choices)))](env, rng, noise=noise)


def run_episode(env, task: str, seed: int, noise: float = 0.2, prior: bool = False) -> bool:
    """One seeded episode of the task's scripted policy (policy seed 1000 + seed); True if it succeeded."""
    from sim_bridge.envs import rollout

    policy = scripted_policy(task, env, np.random.default_rng(1000 + seed), noise, prior)
    return rollout(env, lambda observation, info: policy(info), seed)
