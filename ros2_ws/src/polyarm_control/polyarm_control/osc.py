"""The operational-space law (Khatib 1987), structured as robosuite's OSC_POSE, plus physical impedance.

One difference from robosuite: it applies separate position and orientation inertias by default
(`uncouple_pos_ori`: Lambda_pos = (J_p M^-1 J_p^T)^-1 and Lambda_ori), so a position error produces no
torque about the TCP; this module uses the full, coupled Lambda of Khatib's formulation below, which
decouples the task-space accelerations instead.

    Lambda = (J M^-1 J^T)^-1                     task-space inertia, filtered near singularities
    mode "osc":       F = Lambda (Kp e + Kd edot),  Kd = 2 zeta sqrt(Kp)      (per axis)
    mode "impedance": F = K e + D edot,             D  = 2 zeta sqrt(K diag(Lambda))  (N/m, N m/rad)
    tau = J^T F + N^T M (kp_null (q_posture - q) - kd_null qdot)
    N^T = I - J^T Jbar^T,  Jbar = M^-1 J^T Lambda   (dynamically consistent null space)

e stacks the position error (m) and the orientation error (rotation vector, rad); edot is the
reference's velocity minus the TCP's, so the damping acts on the tracking error and a moving
reference is followed without the lag that damping the absolute velocity (robosuite's -Kd xdot)
costs; for a still reference the two are the same. For arms with
fewer than 6 joints the orientation stiffness is weighted down (`orientation_weight`, damping
following the weighted stiffness) and the filtered inverse drops the direction the arm cannot move
in: a weighted, damped least-squares fit that puts position first and orientation as well as the
remaining joints allow. Gravity and Coriolis terms are added by the caller, who knows
whether the robot compensates its own gravity.

Impedance damping uses the arm's apparent inertia diag(Lambda), so each axis is damped at the chosen
ratio whatever its inertia: a unit-mass D = 2 sqrt(K) over-damps the light rotational axes and goes
unstable at a 100 Hz torque update.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODES = ("osc", "impedance")


@dataclass(frozen=True)
class OSCGains:
    mode: str = "osc"
    # "osc": Kp in 1/s^2 (acceleration per unit error). "impedance": K in N/m and N m/rad.
    stiffness_position: float = 150.0
    stiffness_orientation: float = 150.0
    damping_ratio: float = 1.0
    nullspace_stiffness: float = 10.0  # 1/s^2, toward the posture
    # Singular values of J M^-1 J^T (1/kg, 1/(kg m^2)) below this are faded out instead of inverted.
    # Scale matters: a constant damping as large as the smallest healthy singular value (the Panda's
    # is 0.07) would break the null-space projection and let the posture task fight the pose task.
    singular_value_threshold: float = 0.01
    orientation_weight: float = 1.0  # < 1 on arms with fewer than 6 joints

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown OSC mode {self.mode!r}; valid modes: {', '.join(MODES)}")
        for name in ("stiffness_position", "stiffness_orientation", "damping_ratio", "nullspace_stiffness",
                     "singular_value_threshold", "orientation_weight"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"OSC gain {name} must be finite and >= 0, got {value}")

    @property
    def stiffness(self) -> np.ndarray:
        return np.array([self.stiffness_position] * 3 + [self.stiffness_orientation * self.orientation_weight] * 3)

    def damping(self, apparent_inertia: np.ndarray) -> np.ndarray:
        """Kd (osc, per unit inertia) or D (impedance, for the given apparent inertia)."""
        if self.mode == "osc":
            return 2.0 * self.damping_ratio * np.sqrt(self.stiffness)
        return 2.0 * self.damping_ratio * np.sqrt(self.stiffness * np.maximum(apparent_inertia, 0.0))


def filtered_inverse(A: np.ndarray, threshold: float) -> np.ndarray:
    """Inverse of a symmetric positive semi-definite matrix, with each singular value s mapped to
    1/s above `threshold` and faded linearly to 0 below it (s / threshold^2): exact away from
    singularities, bounded and continuous near them."""
    U, s, Vt = np.linalg.svd(A)
    inv = np.where(s >= threshold, 1.0 / np.maximum(s, threshold), s / (threshold * threshold))
    return (Vt.T * inv) @ U.T


def task_space_inertia(J: np.ndarray, M_inv: np.ndarray, threshold: float) -> np.ndarray:
    return filtered_inverse(J @ M_inv @ J.T, threshold)


def osc_torque(
    gains: OSCGains,
    J: np.ndarray,
    M: np.ndarray,
    error: np.ndarray,
    error_velocity: np.ndarray,
    q: np.ndarray,
    qd: np.ndarray,
    q_posture: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Joint torque of the task and posture terms, and the task wrench F."""
    M_inv = np.linalg.inv(M)
    Lambda = task_space_inertia(J, M_inv, gains.singular_value_threshold)
    damping = gains.damping(np.diag(Lambda))
    if gains.mode == "osc":
        F = Lambda @ (gains.stiffness * error + damping * error_velocity)
    else:
        F = gains.stiffness * error + damping * error_velocity
    tau_task = J.T @ F
    J_bar = M_inv @ J.T @ Lambda
    N_T = np.eye(len(q)) - J.T @ J_bar.T
    kd_null = 2.0 * np.sqrt(gains.nullspace_stiffness)
    tau_posture = N_T @ (M @ (gains.nullspace_stiffness * (q_posture - q) - kd_null * qd))
    return tau_task + tau_posture, F
