"""Scripted data-collection policies, written from COG's Algorithms 1-3 and seed 000.

They read the ground truth (object and TCP positions) the way COG's scripted policies are "supplied
with the object's coordinates", act in the env's own normalized action space, add Gaussian noise
(sigma 0.2 by default) to every action, randomize their thresholds per episode, and return to the
neutral pose with COG's 8th action once their behaviour is done.
"""

from __future__ import annotations

import numpy as np

from sim_bridge.tasks.pick import HALF_SIZE
from sim_bridge.tasks.press_button import PressButton

GRIPPER_OPEN, GRIPPER_CLOSE, GRIPPER_KEEP = 1.0, -1.0, 0.0


class ScriptedPolicy:
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

    def plan(self, tcp: np.ndarray, obj: np.ndarray) -> tuple[np.ndarray, float, bool]:
        raise NotImplementedError  # each policy defines its phases


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
        return np.zeros(3), GRIPPER_KEEP, self.phase == "neutral" and self._neutral_once()

    def _neutral_once(self) -> bool:
        self.phase = "done"
        return True


class GraspPolicy(ScriptedPolicy):
    """COG Algorithm 1: move toward the object, close the gripper once within a randomized
    distance of it, lift above a height threshold; then return to neutral."""

    def reset(self):
        super().reset()
        self.close_within = float(np.clip(self.rng.normal(0.015, 0.005), 0.005, 0.03))
        self.lift_to = self.rng.normal(0.14, 0.01)

    def plan(self, tcp, obj):
        grasp_point = obj + np.array([0, 0, 0.6 * HALF_SIZE])
        above = grasp_point + np.array([0, 0, 0.08])
        if self.phase == "start":
            self.phase = "approach"
        if self.phase == "approach":
            if np.linalg.norm((above - tcp)[:2]) < 0.012:
                self.phase = "descend"
            return above - tcp, GRIPPER_OPEN, False
        if self.phase == "descend":
            if np.linalg.norm(grasp_point - tcp) < self.close_within:
                self.phase = "close"
            return grasp_point - tcp, GRIPPER_OPEN, False
        if self.phase == "close":
            self.wait += 1
            if self.wait >= 2:
                self.phase = "lift"
            return np.zeros(3), GRIPPER_CLOSE, False
        if self.phase == "lift":
            if tcp[2] > self.lift_to:
                self.phase = "hold"
            return np.array([0, 0, self.lift_to + 0.02 - tcp[2]]), GRIPPER_CLOSE, False
        return np.zeros(3), GRIPPER_CLOSE, False


SCRIPTED = {"reach": ReachPolicy, "press_button": PressButtonPolicy, "pick": GraspPolicy}
