"""Dynamixel X-series facts both sides of the bus agree on: the control table the driver uses, model
numbers, units and error bits (ROBOTIS e-Manual, XM430-W350 / XM540-W270 / XL430-W250, Protocol 2.0).
Plain Python: the driver (over dynamixel-sdk) and the simulated bus (polyarm_fakes.dynamixel_bus) read it.
"""

from __future__ import annotations

import math

MODEL_NUMBERS = {"XM430-W350": 1020, "XM540-W270": 1120, "XL430-W250": 1060}
MODEL_NAMES = {number: name for name, number in MODEL_NUMBERS.items()}

# address: (name, size in bytes). Below TORQUE_ENABLE is EEPROM: locked while torque is on.
CONTROL_TABLE = {
    0: ("model_number", 2),
    6: ("firmware_version", 1),
    7: ("id", 1),
    8: ("baud_rate", 1),
    9: ("return_delay_time", 1),
    10: ("drive_mode", 1),
    11: ("operating_mode", 1),
    12: ("secondary_id", 1),
    20: ("homing_offset", 4),
    64: ("torque_enable", 1),
    65: ("led", 1),
    68: ("status_return_level", 1),
    69: ("registered_instruction", 1),
    70: ("hardware_error_status", 1),
    108: ("profile_acceleration", 4),
    112: ("profile_velocity", 4),
    116: ("goal_position", 4),
    122: ("moving", 1),
    126: ("present_current", 2),
    128: ("present_velocity", 4),
    132: ("present_position", 4),
}
ADDRESS = {name: address for address, (name, _) in CONTROL_TABLE.items()}
SIZE = {name: size for _, (name, size) in CONTROL_TABLE.items()}

POSITION_MODE = 3  # Operating Mode: position control (0..4095 within one turn)
DRIVE_MODE_REVERSE = 0x01  # Drive Mode bit 0: the servo turns the other way (Interbotix's shadow servos)

# Hardware Error Status bits, and the status packet's error byte
HARDWARE_ERRORS = {0x01: "input voltage", 0x04: "overheating", 0x08: "motor encoder", 0x10: "electrical shock",
                   0x20: "overload"}
ERROR_ALERT = 0x80  # in a status packet: the servo has a hardware error (read Hardware Error Status)
RESULT_FAIL, INSTRUCTION_ERROR, CRC_ERROR, DATA_RANGE_ERROR, DATA_LENGTH_ERROR, DATA_LIMIT_ERROR, ACCESS_ERROR = range(1, 8)

# Units
TICKS_PER_TURN = 4096
CENTER_TICKS = 2048  # 0 rad
VELOCITY_UNIT = 0.229 * 2.0 * math.pi / 60.0  # rad/s per unit (0.229 rev/min)
ACCELERATION_UNIT = 214.577 * 2.0 * math.pi / 3600.0  # rad/s^2 per unit (214.577 rev/min^2)
CURRENT_UNIT = 2.69e-3  # A per unit
TORQUE_PER_AMP = 1.5  # N m/A, roughly, for the X-series in this arm (the fake turns effort into current with it)


def radians_to_ticks(angle: float) -> int:
    return int(round(CENTER_TICKS + angle * TICKS_PER_TURN / (2.0 * math.pi)))


def ticks_to_radians(ticks: int) -> float:
    return (ticks - CENTER_TICKS) * 2.0 * math.pi / TICKS_PER_TURN


def signed(value: int, size: int) -> int:
    """A register's unsigned bytes as the signed value the X-series stores (velocity, current, position)."""
    bits = 8 * size
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def describe_hardware_error(status: int) -> str:
    return ", ".join(name for bit, name in HARDWARE_ERRORS.items() if status & bit) or "none"
