"""Controller parameters (all ROS parameters of the node); the per-robot defaults come from the robot's profile.

The defaults are low-gain and compliant. The Panda runs physical Cartesian impedance (what users tune
on the real arm); the servo arms run inertia-weighted OSC on their reference model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from polyarm_description import ROBOTS

from polyarm_control.osc import OSCGains


@dataclass(frozen=True)
class ControllerConfig:
    gains: OSCGains = field(default_factory=OSCGains)
    rate_hz: float = 100.0
    frame_id: str = "base_link"
    workspace_low: tuple = (0.15, -0.5, 0.02)
    workspace_high: tuple = (0.8, 0.5, 0.8)
    interpolation: str = "min_jerk"
    default_target_period: float = 0.5  # s, until targets have arrived twice (a 2 Hz policy)
    max_linear_speed: float = 0.3  # m/s of the reference
    max_angular_speed: float = 1.5  # rad/s of the reference
    max_linear_acceleration: float = 3.0  # m/s^2 of the reference (and the braking before a target)
    max_angular_acceleration: float = 15.0  # rad/s^2 of the reference
    target_timeout: float = 2.0  # s without a target: hold
    joint_state_timeout: float = 0.05  # s without joint_states: hold
    joint_limit_margin: float = 0.1  # rad from a position limit where the push-back starts
    joint_limit_stiffness: float = 20.0  # N m/rad of the push-back
    stop_bandwidth: float = 20.0  # rad/s of the joint-space hold after an e-stop (effort robots)
    reference_substeps: int = 1  # integration steps of the reference model per tick (position robots)
    max_servo_error: float = 0.15  # rad the reference may lead the measured joints (position robots)


DEFAULTS = {
    name: ControllerConfig(gains=OSCGains(**profile.controller_gains), workspace_low=profile.workspace_low,
                           workspace_high=profile.workspace_high)
    for name, profile in ROBOTS.items()
}


def default_config(robot: str, **overrides) -> ControllerConfig:
    return replace(DEFAULTS[robot], **overrides)


def flatten(config: ControllerConfig) -> dict:
    """ROS parameter names and values of a config (gains.* nested one level)."""
    out = {}
    for name, value in vars(config).items():
        if name == "gains":
            out.update({f"gains.{k}": v for k, v in vars(value).items()})
        else:
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def unflatten(values: dict, base: ControllerConfig) -> ControllerConfig:
    gains = replace(base.gains, **{k[6:]: v for k, v in values.items() if k.startswith("gains.")})
    rest = {k: (tuple(v) if isinstance(getattr(base, k), tuple) else v) for k, v in values.items() if not k.startswith("gains.")}
    config = replace(base, gains=gains, **rest)
    for name in ("workspace_low", "workspace_high"):
        if len(getattr(config, name)) != 3 or not np.all(np.isfinite(getattr(config, name))):
            raise ValueError(f"{name} needs 3 finite values, got {getattr(config, name)}")
    return config
