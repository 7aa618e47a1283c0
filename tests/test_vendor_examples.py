"""The vendors' own example programs, unmodified, against `polyarm fake-robot`: UFACTORY's xArm-Python-SDK
examples against the simulated xArm controller, ROBOTIS's DynamixelSDK protocol 2.0 examples against the
simulated Dynamixel bus. They live in ../shared/vendor-examples (third-party code, not copied here).

Each runs as a lab would run it: the xArm ones with the controller's address as their argument (or, for
5004, in a folder whose ../robot.conf names it); the Dynamixel ones from a copy with only DEVICENAME
changed, their "press any key" prompts answered through a pseudo-terminal. Each must end without an SDK
error; then the test checks the example's own outcome against the fake's state, read back with the SDK.
"""

from __future__ import annotations

import ast
import math
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, private_loopback, start_fake_robot
from polyarm_common.processes import stop
from polyarm_description import get_robot

VENDOR = REPO.parent / "shared" / "vendor-examples"
SDK_ERROR = "[SDK][ERROR]"
ESC = "\x1b"

pytestmark = pytest.mark.robot_sim


@pytest.fixture(scope="module")
def vendor() -> Path:
    if not VENDOR.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{VENDOR} is missing: CI must have the vendors' examples beside its checkout")
        pytest.skip(f"{VENDOR} is absent: the vendors' examples live beside the checkout on CI and developers' machines")
    return VENDOR


def run_example(script: Path, *args: str, cwd: Path, keys: str = "", prompt: str = "", timeout: float = 120.0,
                watch=None) -> str:
    """The example in a process of its own with a pseudo-terminal on stdin: each time its output shows
    `prompt` again, the next of `keys` is typed. `watch(output)` is called as it runs; once it returns
    True the example is killed (one that runs until killed). Its output; it must end by itself otherwise."""
    leader, follower = pty.openpty()
    log = cwd / f"{script.stem}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(script), *args], cwd=cwd, stdin=follower, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    os.close(follower)
    typed, deadline = 0, time.monotonic() + timeout
    try:
        while proc.poll() is None:
            assert time.monotonic() < deadline, f"{script.name} did not finish within {timeout} s:\n{log.read_text()[-3000:]}"
            output = log.read_text(errors="replace")
            if prompt and typed < len(keys) and output.count(prompt) > typed:
                os.write(leader, keys[typed].encode())
                typed += 1
            if watch is not None and watch(output):
                proc.terminate()
                watch = None
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    return log.read_text(errors="replace")


def assert_no_sdk_error(output: str, name: str) -> None:
    errors = [line for line in output.splitlines() if SDK_ERROR in line or "Traceback" in line]
    assert not errors, f"{name}: {errors[:3]}\n{output[-2000:]}"


# ------------------------------------------------------------------ UFACTORY xArm
@pytest.fixture(scope="module")
def fake_xarm(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xarm")
    host = private_loopback()
    proc = start_fake_robot(tmp / "fake.log", "xarm7", "--host", host, ready="xArm controller for the xarm7")
    yield host, proc, tmp
    stop(proc)


def xarm_client(host: str):
    from xarm.wrapper import XArmAPI

    return XArmAPI(host, is_radian=False)


def read_back(host: str) -> dict:
    """The arm as the SDK sees it after an example: angles (deg), pose (mm, deg), state, mode, error."""
    arm = xarm_client(host)
    try:
        time.sleep(0.3)  # a report or two
        return {"angles": np.array(arm.get_servo_angle()[1][:7]), "pose": np.array(arm.get_position()[1]),
                "state": arm.state, "mode": arm.mode, "error": arm.error_code, "gripper": arm.get_gripper_position()[1]}
    finally:
        arm.disconnect()


def printed_pairs(output: str) -> list[tuple[list, list]]:
    """The `print(arm.get_x(), arm.get_x(is_radian=...))` lines: each a pair of (code, values)."""
    pairs = []
    for line in output.splitlines():
        if line.startswith("(0, ["):
            first, second = line.split(") (", 1)
            pairs.append((ast.literal_eval(first + ")")[1], ast.literal_eval("(" + second)[1]))
    return pairs


def _degrees(values) -> np.ndarray:
    return np.array([math.degrees(v) for v in values])


JOINT_TARGETS = [[90, 0, 0, 0, 0, 0, 0], [90, -60, 0, 0, 0, 0, 0], [90, -60, -30, 0, 0, 0, 0],
                 [0, -60, -30, 0, 0, 0, 0], [0, -60, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0]] * 2
LINE_TARGETS = [[300, 0, 150], [300, 200, 250], [500, 200, 150], [500, -200, 250], [300, -200, 150],
                [300, 0, 250]] * 2


MOTION_EXAMPLES = ("xarm7/2001-move_joint.py", "xarm7/2002-move_joint.py", "common/1001-move_line.py",
                   "common/1002-move_line.py", "common/2000-joint_velocity_control.py")


@pytest.fixture(scope="module")
def motion_runs(vendor, tmp_path_factory) -> dict:
    """The examples that move the arm at the vendor's speeds (20-25 s each, in the robot's own time) run side
    by side, each against a fake of its own: {example: (output, the arm read back after it, joint 1 seen)}."""
    from concurrent.futures import ThreadPoolExecutor

    folders = {example: tmp_path_factory.mktemp(f"example{i}") for i, example in enumerate(MOTION_EXAMPLES)}

    def run(example: str):  # in a thread of its own: pytest's tmp_path_factory is made before, in this one
        tmp = folders[example]
        host = private_loopback()
        fake = start_fake_robot(tmp / "fake.log", "xarm7", "--host", host, ready="xArm controller for the xarm7")
        try:
            watcher, joint_1 = xarm_client(host), []

            def record_joint_1(_output: str) -> bool:
                joint_1.append(watcher.angles[0])
                return False

            try:
                output = run_example(vendor / "xarm" / example, host, cwd=tmp, watch=record_joint_1)
            finally:
                watcher.disconnect()
            return output, read_back(host), joint_1
        finally:
            stop(fake)

    with ThreadPoolExecutor(len(MOTION_EXAMPLES)) as pool:
        return dict(zip(MOTION_EXAMPLES, pool.map(run, MOTION_EXAMPLES)))


def printed_moves(motion_runs: dict, example: str, targets: list) -> tuple[list, dict]:
    """An example's printed read-backs, one per target it moved to (and no SDK error), and the arm after it."""
    output, back, _ = motion_runs[example]
    assert_no_sdk_error(output, example)
    pairs = printed_pairs(output)
    assert len(pairs) == len(targets), output[-2000:]
    return pairs, back


@pytest.mark.parametrize("example", MOTION_EXAMPLES[:2])
def test_ufactory_move_joint_reaches_every_joint_target_within_a_tenth_of_a_degree(motion_runs, example):
    pairs, back = printed_moves(motion_runs, example, JOINT_TARGETS)
    for (first, second), target in zip(pairs, JOINT_TARGETS):
        degrees, radians = (first, second) if "2001" in example else (second, first)
        assert np.abs(np.array(degrees) - target).max() < 0.1, (target, degrees)
        assert np.abs(_degrees(radians) - target).max() < 0.1
    assert np.abs(back["angles"]).max() < 0.1, "move_gohome: every joint at 0"


@pytest.mark.parametrize("example", MOTION_EXAMPLES[2:4])
def test_ufactory_move_line_puts_the_tcp_on_every_target_within_a_millimetre(motion_runs, example):
    pairs, back = printed_moves(motion_runs, example, LINE_TARGETS)
    for (first, second), target in zip(pairs, LINE_TARGETS):
        degrees = first if "1001" in example else second
        assert np.linalg.norm(np.array(first[:3]) - target) < 1.0, (target, first)
        assert abs(abs(degrees[3]) - 180.0) < 0.1 and abs(degrees[4]) < 0.1 and abs(degrees[5]) < 0.1, degrees
    assert np.abs(back["angles"]).max() < 0.1, "move_gohome at the end"


def test_ufactory_joint_velocity_control_swings_joint_1_and_stops(motion_runs):
    """2000: joint 1 at -50 then +50 deg/s, 2 s each, six times, then 0. The firmware ramps each change
    at the joint acceleration limit, so the swings are about 100 degrees and the arm ends still."""
    output, back, joint_1 = motion_runs[MOTION_EXAMPLES[4]]
    assert_no_sdk_error(output, "2000")
    assert min(joint_1) < -90.0 and max(joint_1) > -10.0, (min(joint_1), max(joint_1))
    assert back["state"] == 2 and back["error"] == 0 and back["mode"] == 4, back
    assert np.abs(back["angles"][1:]).max() < 0.1, "only joint 1 moved"
    assert abs(back["angles"][0]) < 5.0, "the ramps cost a few degrees, no more"


def test_ufactory_servo_j_streams_until_the_arm_is_stopped(vendor, fake_xarm):
    """7001 streams set_servo_angle_j at 100 Hz until the state is 4: stopped, as from UFACTORY Studio."""
    host, _, tmp = fake_xarm
    operator, stopped = xarm_client(host), []

    def stop_after_a_sweep(output: str) -> bool:
        if not stopped and output.count("set_servo_angle_j, ret=0") >= 150:
            stopped.append(output.count("\n"))
            assert operator.set_state(4) == 0
        return False

    try:
        output = run_example(vendor / "xarm" / "common" / "7001-servo_j.py", host, cwd=tmp, watch=stop_after_a_sweep)
    finally:
        operator.disconnect()
    before_stop = "\n".join(output.splitlines()[:stopped[0]])
    assert_no_sdk_error(before_stop, "7001 before the stop")
    assert "ret=0" in before_stop and "ret=24" not in output, "no servo jump: the stream was followed"


def test_ufactory_get_property_prints_the_controllers_state(vendor, fake_xarm):
    host, _, tmp = fake_xarm
    output = run_example(vendor / "xarm" / "common" / "0002-get_property.py", host, cwd=tmp)
    assert_no_sdk_error(output, "0002")
    printed = dict(line.split(": ", 1) for line in output.splitlines() if ": " in line and not line.startswith("ROBOT_IP"))
    facts = get_robot("xarm7").xarm_controller
    assert printed["version"] == facts["version"] and printed["error_code"] == "0" and printed["mode"] == "0"
    back = read_back(host)
    assert np.abs(np.array(ast.literal_eval(printed["* angles"])) - back["angles"]).max() < 0.1
    assert np.abs(np.array(ast.literal_eval(printed["* position"]))[:3] - back["pose"][:3]).max() < 1.0
    assert ast.literal_eval(printed["* tcp_speed_limit"])[1] == facts["max_tcp_speed"]


def test_ufactory_report_data_prints_the_arms_angles(vendor, fake_xarm):
    host, _, tmp = fake_xarm
    output = run_example(vendor / "xarm" / "common" / "3004-get_report_data.py", host, cwd=tmp,
                         watch=lambda out: out.count("angles:") >= 3)
    angles = [ast.literal_eval(m) for m in re.findall(r"angles: (\[.*\])", output)]
    assert len(angles) >= 3
    back = read_back(host)
    assert np.abs(_degrees(angles[-1]) - back["angles"]).max() < 0.1, "the normal report's angles (rad) are the arm's"


def test_ufactory_set_gripper_closes_the_gripper_to_300_pulses(vendor, fake_xarm):
    host, _, tmp = fake_xarm
    folder = tmp / "lab" / "scripts"  # 5004 reads ../robot.conf only
    folder.mkdir(parents=True, exist_ok=True)
    (folder.parent / "robot.conf").write_text(f"[xArm]\nip = {host}\n")
    output = run_example(vendor / "xarm" / "common" / "5004-set_gripper.py", cwd=folder)
    assert_no_sdk_error(output, "5004")
    assert output.count("code=0") == 5, output
    assert abs(read_back(host)["gripper"] - 300) < 10


# ------------------------------------------------------------------ ROBOTIS Dynamixel
@pytest.fixture(scope="module")
def fake_bus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dynamixel")
    device = tmp / "ttyDXL"
    proc = start_fake_robot(tmp / "fake.log", "wx250s", "--port", str(device), ready="Dynamixel bus for the wx250s")
    yield device, proc, tmp
    stop(proc)


def dynamixel_copy(vendor: Path, name: str, device: Path, folder: Path) -> Path:
    """The example with only its DEVICENAME constant changed to the fake bus's device."""
    source = (vendor / "dynamixel" / "protocol2_0" / name).read_text()
    changed, count = re.subn(r"^DEVICENAME(\s*)= '/dev/ttyUSB0'", rf"DEVICENAME\1= '{device}'", source, flags=re.M)
    assert count == 1, f"{name}: DEVICENAME not found"
    copy = folder / name
    copy.write_text(changed)
    return copy


def read_servo(device: Path, dxl_id: int, address: int, size: int) -> tuple[int, int]:
    from dynamixel_sdk import COMM_SUCCESS, PacketHandler, PortHandler

    port, handler = PortHandler(str(device)), PacketHandler(2.0)
    assert port.openPort()
    try:
        read = {1: handler.read1ByteTxRx, 2: handler.read2ByteTxRx, 4: handler.read4ByteTxRx}[size]
        value, result, error = read(port, dxl_id, address)
        assert result == COMM_SUCCESS
        return value, error
    finally:
        port.closePort()


PROMPT = "Press any key to continue! (or press ESC to quit!)"
DYNAMIXEL_FAILURES = ("[TxRxResult]", "[RxPacketError]", "failed")


def assert_no_dynamixel_error(output: str, name: str) -> None:
    errors = [line for line in output.splitlines() if any(f in line for f in DYNAMIXEL_FAILURES) or "Traceback" in line]
    assert not errors, f"{name}: {errors[:3]}\n{output[-2000:]}"


def test_robotis_ping_reads_the_waists_model_number(vendor, fake_bus):
    device, _, tmp = fake_bus
    output = run_example(dynamixel_copy(vendor, "ping.py", device, tmp), cwd=tmp, timeout=30)
    assert_no_dynamixel_error(output, "ping")
    assert "[ID:001] ping Succeeded. Dynamixel model number : 1020" in output, output


@pytest.mark.parametrize("example", ["read_write.py", "sync_read_write.py", "bulk_read_write.py"])
def test_robotis_read_write_examples_turn_the_waist_to_each_end_of_its_turn(vendor, fake_bus, example):
    """Goal Position 0, then 4095: the waist turns to each end of its range (the shoulder, ID 2, refuses
    both in the sync example: beyond its position limits), each time until within the example's 20 ticks."""
    device, _, tmp = fake_bus
    output = run_example(dynamixel_copy(vendor, example, device, tmp), cwd=tmp, keys="  " + ESC, prompt=PROMPT, timeout=60)
    assert_no_dynamixel_error(output, example)
    positions = [int(p) for p in re.findall(r"\[ID:001\] (?:GoalPos:\d+\s+PresPos:|Present Position : )(\d+)", output)]
    assert positions, output[-2000:]
    lows = [p for p in positions if p <= 20]
    assert lows and positions[-1] >= 4095 - 20, f"{example}: reached 0 and then 4095: {positions[:3]}...{positions[-3:]}"
    if example == "bulk_read_write.py":
        assert re.findall(r"LED Value: (\d)", output)[-1] == "1", "ID 2's LED as written"
    torque, _ = read_servo(device, 1, 64, 1)
    assert torque == 0, "the example turned torque off at ESC"
    shoulder_goal, _ = read_servo(device, 2, 116, 4)
    assert 819 <= shoulder_goal <= 3345, "the shoulder kept a goal within its limits"


def test_robotis_reboot_clears_a_hardware_error(vendor, fake_bus):
    device, proc, tmp = fake_bus
    proc.stdin.write("overload 1\n")
    proc.stdin.flush()
    time.sleep(0.3)
    status, error = read_servo(device, 1, 70, 1)
    assert status == 0x20 and error & 0x80, "overload: Hardware Error Status set, the alert bit in the status packet"
    output = run_example(dynamixel_copy(vendor, "reboot.py", device, tmp), cwd=tmp, keys=" ", prompt="Press any key to reboot",
                         timeout=30)
    assert_no_dynamixel_error(output, "reboot")
    assert "[ID:001] reboot Succeeded" in output
    status, error = read_servo(device, 1, 70, 1)
    assert status == 0 and error == 0, "the reboot cleared the error"
