"""One Dynamixel X-series servo as the e-Manual describes it (XM430-W350, XM540-W270, XL430-W250,
Protocol 2.0): the whole control table with each item's access and range, the factory defaults, the
indirect addresses, and the answers the servo gives to a write it cannot take.

The bus (polyarm_fakes.dynamixel_bus) owns the servos and the arm behind them; a Servo is its table.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyarm_drivers import dynamixel_table as T

R, RW = "R", "RW"
EXTENDED_POSITION_MODE = 4
EXTENDED_GOAL_RANGE = (-1_048_575, 1_048_575)


@dataclass(frozen=True)
class Item:
    name: str
    size: int
    access: str
    low: int | None = None  # the range a write must fall in (None: any value of the size)
    high: int | None = None
    default: int = 0


def _table(model: str) -> dict[int, Item]:
    xm540 = model == "XM540-W270"
    return {
        0: Item("model_number", 2, R, default=T.MODEL_NUMBERS[model]), 2: Item("model_information", 4, R),
        6: Item("firmware_version", 1, R, default=45), 7: Item("id", 1, RW, 0, 252, 1),
        8: Item("baud_rate", 1, RW, 0, 7, 1), 9: Item("return_delay_time", 1, RW, 0, 254, 250),
        10: Item("drive_mode", 1, RW, 0, 13), 11: Item("operating_mode", 1, RW, 0, 16, T.POSITION_MODE),
        12: Item("secondary_id", 1, RW, 0, 255, 255), 13: Item("protocol_type", 1, RW, 1, 2, 2),
        20: Item("homing_offset", 4, RW, -1_044_479, 1_044_479), 24: Item("moving_threshold", 4, RW, 0, 1023, 10),
        31: Item("temperature_limit", 1, RW, 0, 100, 80), 32: Item("max_voltage_limit", 2, RW, 60, 160, 160),
        34: Item("min_voltage_limit", 2, RW, 60, 160, 60), 36: Item("pwm_limit", 2, RW, 0, 885, 885),
        38: Item("current_limit", 2, RW, 0, 2047 if xm540 else 1193, 2047 if xm540 else 1193),
        44: Item("velocity_limit", 4, RW, 0, 1023, 128 if xm540 else 200),
        48: Item("max_position_limit", 4, RW, 0, 4095, 4095), 52: Item("min_position_limit", 4, RW, 0, 4095, 0),
        60: Item("startup_configuration", 1, RW, 0, 3), 63: Item("shutdown", 1, RW, 0, 255, 52),
        64: Item("torque_enable", 1, RW, 0, 1), 65: Item("led", 1, RW, 0, 1),
        68: Item("status_return_level", 1, RW, 0, 2, 2), 69: Item("registered_instruction", 1, R),
        70: Item("hardware_error_status", 1, R), 76: Item("velocity_i_gain", 2, RW, 0, 16383, 1920),
        78: Item("velocity_p_gain", 2, RW, 0, 16383, 100), 80: Item("position_d_gain", 2, RW, 0, 16383),
        82: Item("position_i_gain", 2, RW, 0, 16383), 84: Item("position_p_gain", 2, RW, 0, 16383, 800),
        88: Item("feedforward_2nd_gain", 2, RW, 0, 16383), 90: Item("feedforward_1st_gain", 2, RW, 0, 16383),
        98: Item("bus_watchdog", 1, RW, 0, 127), 100: Item("goal_pwm", 2, RW, -885, 885),
        102: Item("goal_current", 2, RW, -2047, 2047), 104: Item("goal_velocity", 4, RW, -1023, 1023),
        108: Item("profile_acceleration", 4, RW, 0, 32767), 112: Item("profile_velocity", 4, RW, 0, 32767),
        116: Item("goal_position", 4, RW), 120: Item("realtime_tick", 2, R), 122: Item("moving", 1, R),
        123: Item("moving_status", 1, R), 124: Item("present_pwm", 2, R), 126: Item("present_current", 2, R),
        128: Item("present_velocity", 4, R), 132: Item("present_position", 4, R),
        136: Item("velocity_trajectory", 4, R), 140: Item("position_trajectory", 4, R),
        144: Item("present_input_voltage", 2, R, default=120), 146: Item("present_temperature", 1, R, default=32),
        147: Item("backup_ready", 1, R),
        **{168 + 2 * k: Item(f"indirect_address_{k + 1}", 2, RW, 64, 661, 224 + k) for k in range(28)},
        **{224 + k: Item(f"indirect_data_{k + 1}", 1, RW) for k in range(28)},
        **{578 + 2 * k: Item(f"indirect_address_{k + 29}", 2, RW, 64, 661, 634 + k) for k in range(28)},
        **{634 + k: Item(f"indirect_data_{k + 29}", 1, RW) for k in range(28)},
    }


TABLE_SIZE = 662
EEPROM_END = T.ADDRESS["torque_enable"]  # below it: EEPROM
INDIRECT = ((168, 224, 28), (578, 634, 28))  # (first address slot, first data byte, how many)
FACTORY_RESET_ALL, FACTORY_RESET_KEEP_ID, FACTORY_RESET_KEEP_ID_AND_BAUD = 0xFF, 0x01, 0x02
CLEAR_MULTI_TURN_KEY = bytes([0x01, 0x44, 0x58, 0x4C, 0x22])  # "DXL\"" after 0x01, as the e-Manual gives it


class Servo:
    """One X-series servo's control table, the faults a bus can give it, and its answers to writes."""

    def __init__(self, name: str, dxl_id: int, model: str, configured: dict[str, int]):
        self.name, self.model = name, model
        self.items = _table(model)
        self.by_name = {item.name: address for address, item in self.items.items()}
        self.configured = {"id": dxl_id, **configured}  # the lab's EEPROM settings (Interbotix's motor config)
        self.table = bytearray(TABLE_SIZE)
        self._defaults()
        for field, value in self.configured.items():
            self.set(field, value)
        self.setpoint = 0.0  # rad, in the joint's frame: where the servo's own profile has got to
        self.velocity = 0.0
        self.unplugged, self.late_s = False, 0.0

    def _defaults(self, keep: tuple[str, ...] = ()) -> None:
        kept = {field: self.get(field) for field in keep}
        for item in self.items.values():
            self.set(item.name, item.default)
        for field, value in kept.items():
            self.set(field, value)

    @property
    def id(self) -> int:
        return self.get("id")

    def get(self, field: str) -> int:
        address = self.by_name[field]
        return int.from_bytes(self.table[address:address + self.items[address].size], "little")

    def set(self, field: str, value: int) -> None:
        address = self.by_name[field]
        n = self.items[address].size
        self.table[address:address + n] = (int(value) % (1 << (8 * n))).to_bytes(n, "little")

    @property
    def torque(self) -> bool:
        return bool(self.get("torque_enable"))

    @property
    def reversed(self) -> bool:
        return bool(self.get("drive_mode") & T.DRIVE_MODE_REVERSE)

    def error_byte(self, error: int = 0) -> int:
        return error | (T.ERROR_ALERT if self.get("hardware_error_status") else 0)

    # ------------------------------------------------------------ reads and writes, through the indirect addresses
    def _resolve(self, address: int) -> int:
        """An Indirect Data byte stands for the address its Indirect Address slot holds."""
        for slots, data, count in INDIRECT:
            if data <= address < data + count:
                slot = slots + 2 * (address - data)
                return int.from_bytes(self.table[slot:slot + 2], "little")
        return address

    def read(self, address: int, size: int) -> bytes | None:
        if address + size > TABLE_SIZE:
            return None
        return bytes(self.table[self._resolve(a)] for a in range(address, address + size))

    def write(self, address: int, data: bytes) -> int:
        """A WRITE's effect; the protocol error it gets (0: none). Checked as a whole before any byte lands."""
        if address + len(data) > TABLE_SIZE:
            return T.DATA_LENGTH_ERROR
        targets = [self._resolve(a) for a in range(address, address + len(data))]
        staged = bytearray(self.table)
        for target, byte in zip(targets, data):
            staged[target] = byte
        for target in sorted(set(targets)):
            item = self.items.get(target)
            if item is None:
                continue
            if item.access == R:
                return T.ACCESS_ERROR
            if self.torque and (target < EEPROM_END or item.name.startswith("indirect_address")):
                return T.ACCESS_ERROR  # EEPROM and the indirect addresses are locked while torque is on
            if all(t in targets for t in range(target, target + item.size)):  # an item written whole: in range?
                raw = int.from_bytes(staged[target:target + item.size], "little")
                signed = item.name == "goal_position" or (item.low is not None and item.low < 0)
                if not self._in_range(item, T.signed(raw, item.size) if signed else raw):
                    return T.DATA_RANGE_ERROR
        if staged[self.by_name["torque_enable"]] and self.get("hardware_error_status") and not self.torque:
            return T.ACCESS_ERROR  # a faulted servo stays off until rebooted
        was_on = self.torque
        self.table[:] = staged
        if self.torque and not was_on:
            self.set("goal_position", self.get("present_position"))  # torque on holds where it stands
        return 0

    def _in_range(self, item: Item, value: int) -> bool:
        if item.name == "goal_position":  # within the position limits; extended position mode: multi-turn
            if self.get("operating_mode") == EXTENDED_POSITION_MODE:
                low, high = EXTENDED_GOAL_RANGE
            else:
                low, high = self.get("min_position_limit"), self.get("max_position_limit")
            return low <= value <= high
        return item.low is None or item.low <= value <= item.high

    # ------------------------------------------------------------ instructions beyond read and write
    def fault(self, bit: int) -> None:
        """A hardware error (overload, overheating, ...): Hardware Error Status set, torque dropped."""
        self.set("hardware_error_status", self.get("hardware_error_status") | bit)
        self.set("torque_enable", 0)

    def reboot(self) -> None:
        """RAM back to its defaults: torque off, the error cleared, goal where the servo stands."""
        present = self.get("present_position")
        for address, item in self.items.items():
            if address >= EEPROM_END and item.access == RW and not item.name.startswith("indirect"):
                self.set(item.name, item.default)
        self.set("hardware_error_status", 0)
        self.set("present_temperature", self.items[self.by_name["present_temperature"]].default)  # cooled down by then
        self.set("goal_position", present)

    def factory_reset(self, option: int) -> int:
        """EEPROM and RAM to the factory's values (keeping the ID, or the ID and baud rate); refused while
        torque is on. The servo then answers on its new ID."""
        if self.torque:
            return T.ACCESS_ERROR
        keep = {FACTORY_RESET_KEEP_ID: ("id", "present_position"),
                FACTORY_RESET_KEEP_ID_AND_BAUD: ("id", "baud_rate", "present_position")}.get(option, ("present_position",))
        if option not in (FACTORY_RESET_ALL, FACTORY_RESET_KEEP_ID, FACTORY_RESET_KEEP_ID_AND_BAUD):
            return T.DATA_RANGE_ERROR
        self._defaults(keep)
        self.set("goal_position", self.get("present_position"))
        return 0

    def clear_multi_turn(self, key: bytes) -> int:
        """Present Position back within one turn; only with the key, and only while standing still. (Behind
        this bus every joint turns less than one revolution, so Present Position is always within one.)"""
        if key != CLEAR_MULTI_TURN_KEY:
            return T.DATA_RANGE_ERROR
        return T.RESULT_FAIL if self.get("moving") else 0
