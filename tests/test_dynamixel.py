"""The WidowX 250 over Dynamixel Protocol 2.0: the unmodified dynamixel-sdk against polyarm's simulated bus
(polyarm_fakes.dynamixel_bus, a pseudo-terminal with the MuJoCo arm behind it), and the driver over both."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from driver_conformance import check_the_driver
from polyarm_core.driver import DriverError
from polyarm_core.registry import factory
from polyarm_description import get_robot
from real_arm_graph import reach_goals

pytestmark = pytest.mark.robot_sim

dynamixel_sdk = pytest.importorskip("dynamixel_sdk")


@pytest.fixture
def fake_bus(request):
    """A simulated bus for the robot in request.param (default wx250s), served in a thread: (bus, device path)."""
    from polyarm_fakes.dynamixel_bus import DynamixelBus, PtyBus

    bus = DynamixelBus(get_robot(getattr(request, "param", "wx250s")))
    bus.start()
    pty = PtyBus(bus)
    thread = threading.Thread(target=pty.serve, daemon=True)
    thread.start()
    yield bus, pty.path
    pty.stop()
    thread.join(timeout=2.0)
    bus.close()


@pytest.fixture
def sdk(fake_bus):
    from dynamixel_sdk import PacketHandler, PortHandler

    bus, path = fake_bus
    port = PortHandler(path)
    assert port.openPort() and port.setBaudRate(1000000)
    yield bus, port, PacketHandler(2.0)
    port.closePort()


def test_the_sdk_pings_every_servo_and_reads_its_model(sdk):
    from polyarm_drivers.dynamixel_table import MODEL_NUMBERS

    bus, port, ph = sdk
    for name, dxl_id, model in get_robot("wx250s").servo_bus["servos"]:
        number, result, error = ph.ping(port, dxl_id)
        assert (result, error, number) == (0, 0, MODEL_NUMBERS[model]), name
    assert ph.ping(port, 42)[1] != 0, "no servo 42 on the bus: no status packet"
    found, result = ph.broadcastPing(port)
    assert result == 0 and sorted(found) == list(range(1, 10))


def test_the_sdk_reads_and_writes_each_field_and_eeprom_locks_under_torque(sdk):
    bus, port, ph = sdk
    for address, value in ((108, 50), (112, 200), (65, 1), (10, 1)):
        size = {108: 4, 112: 4, 65: 1, 10: 1}[address]
        write = {1: ph.write1ByteTxRx, 4: ph.write4ByteTxRx}[size]
        read = {1: ph.read1ByteTxRx, 4: ph.read4ByteTxRx}[size]
        assert write(port, 7, address, value) == (0, 0)
        assert read(port, 7, address)[:2] == (value, 0)
    assert ph.write1ByteTxRx(port, 7, 64, 1) == (0, 0)  # torque on
    result, error = ph.write1ByteTxRx(port, 7, 11, 1)  # Operating Mode is EEPROM
    assert result == 0 and error == 7, "the access error of a locked EEPROM"
    assert ph.read1ByteTxRx(port, 7, 11)[0] == 3, "unchanged"
    assert ph.read2ByteTxRx(port, 7, 700)[1] != 0 or ph.read2ByteTxRx(port, 7, 700)[2] != 0, "past the table: refused"


def test_the_servos_answer_bad_writes_as_the_e_manual_says_and_take_the_rest_of_protocol_2(sdk):
    """Range, access and instruction errors; indirect addresses; REG WRITE and ACTION; fast sync read;
    factory reset; clear multi-turn; the alert bit while a hardware error stands."""
    from dynamixel_sdk import COMM_SUCCESS, GroupSyncRead

    bus, port, ph = sdk
    assert ph.write1ByteTxRx(port, 2, 64, 1) == (0, 0)
    assert ph.write4ByteTxRx(port, 2, 116, 0) == (0, 4), "a goal below the shoulder's Min Position Limit: range error"
    assert ph.write4ByteTxRx(port, 2, 116, 3000) == (0, 0), "within 819..3345: taken"
    assert ph.write2ByteTxRx(port, 2, 132, 100) == (0, 7), "Present Position is read-only: access error"
    assert ph.write2ByteTxRx(port, 2, 168, 132) == (0, 7), "an indirect address while torque is on: access error"
    assert ph.write1ByteTxRx(port, 2, 64, 0) == (0, 0)
    for k in range(4):  # Indirect Data 1-4 stand for Present Position
        assert ph.write2ByteTxRx(port, 2, 168 + 2 * k, 132 + k) == (0, 0)
    indirect, _, _ = ph.read4ByteTxRx(port, 2, 224)
    assert indirect == ph.read4ByteTxRx(port, 2, 132)[0]

    assert ph.regWriteTxRx(port, 1, 65, 1, [1]) == (0, 0) and ph.read1ByteTxRx(port, 1, 65)[0] == 0, "held"
    assert ph.read1ByteTxRx(port, 1, 69)[0] == 1, "Registered Instruction"
    assert ph.action(port, 1) == 0 and ph.read1ByteTxRx(port, 1, 65)[0] == 1, "done at ACTION"

    fast = GroupSyncRead(port, ph, 132, 4)
    for dxl_id in (1, 4, 6):
        assert fast.addParam(dxl_id)
    assert fast.fastSyncRead() == COMM_SUCCESS
    for dxl_id in (1, 4, 6):
        assert fast.getData(dxl_id, 132, 4) == ph.read4ByteTxRx(port, dxl_id, 132)[0]

    assert ph.write1ByteTxRx(port, 6, 31, 70) == (0, 0)  # Temperature Limit, an EEPROM item
    assert ph.factoryReset(port, 6, 0x02) == (0, 0)
    assert ph.read1ByteTxRx(port, 6, 31)[0] == 80 and ph.ping(port, 6)[1] == COMM_SUCCESS, "defaults back, ID kept"
    assert ph.clearMultiTurn(port, 6) == (0, 0)
    txpacket = [0] * 10
    txpacket[4], txpacket[5], txpacket[7] = 6, 3, 0x7F  # an instruction no X-series servo knows
    _, result, error = ph.txRxPacket(port, txpacket)
    assert result == COMM_SUCCESS and error == 2, "instruction error"

    bus.overheat(6)
    assert ph.read1ByteTxRx(port, 6, 70) == (0x04, 0, 0x80), "overheating, and the alert bit"
    assert ph.write1ByteTxRx(port, 6, 64, 1) == (0, 7 | 0x80), "no torque while the error stands"
    assert ph.reboot(port, 6) == (0, 0) and ph.read1ByteTxRx(port, 6, 70) == (0, 0, 0)


def test_sync_write_moves_the_arm_and_sync_and_bulk_read_see_it(sdk):
    from dynamixel_sdk import GroupBulkRead, GroupSyncRead, GroupSyncWrite

    bus, port, ph = sdk
    assert ph.write1ByteTxRx(port, 1, 64, 1) == (0, 0)
    writer = GroupSyncWrite(port, ph, 116, 4)
    writer.addParam(1, (2048 + 300).to_bytes(4, "little"))
    assert writer.txPacket() == 0
    reader = GroupSyncRead(port, ph, 132, 4)
    for dxl_id in (1, 2, 3):
        reader.addParam(dxl_id)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        assert reader.txRxPacket() == 0
        if abs(reader.getData(1, 132, 4) - 2348) < 15:
            break
        time.sleep(0.05)
    assert abs(reader.getData(1, 132, 4) - 2348) < 15, reader.getData(1, 132, 4)
    assert abs(bus.arm.read().position[0] - 300 * 2 * np.pi / 4096) < 0.03, "the MuJoCo waist turned"
    bulk = GroupBulkRead(port, ph)
    assert bulk.addParam(1, 132, 4) and bulk.addParam(9, 0, 2)
    assert bulk.txRxPacket() == 0
    assert abs(bulk.getData(1, 132, 4) - 2348) < 15 and bulk.getData(9, 0, 2) == 1060


def test_byte_stuffing_and_crc_round_trip_a_value_holding_ff_ff_fd(sdk):
    from polyarm_fakes.dynamixel_bus import crc16, packet, stuff, unstuff

    bus, port, ph = sdk
    value = 0xFDFFFF  # little-endian bytes FF FF FD 00: stuffed on the wire (into Indirect Data 1-4, any byte goes)
    assert ph.write4ByteTxRx(port, 4, 224, value) == (0, 0)
    assert ph.read4ByteTxRx(port, 4, 224)[:2] == (value, 0)
    assert stuff(b"\x03\xff\xff\xfd\x00") == b"\x03\xff\xff\xfd\xfd\x00" and unstuff(b"\x03\xff\xff\xfd\xfd\x00") == b"\x03\xff\xff\xfd\x00"
    raw = packet(1, 0x01, b"")
    assert raw.hex() == "fffffd0001030001" + f"{crc16(raw[:-2]):04x}"[2:] + f"{crc16(raw[:-2]):04x}"[:2]
    corrupted = bytearray(packet(1, 0x02, b"\x84\x00\x04\x00"))
    corrupted[-1] ^= 0xFF
    replies = bus.handle(bytes(corrupted))
    assert replies and replies[0][1][8] == 3, "a CRC error is answered with the CRC error code"


@pytest.mark.parametrize("fake_bus", ["wx250s", "wx250"], indirect=True)
def test_the_dynamixel_driver_conforms_over_the_fake_bus(fake_bus):
    bus, path = fake_bus
    driver = factory("driver", "dynamixel").create(bus.robot, port=path)
    driver.connect()
    try:
        check_the_driver(driver)
    finally:
        driver.close()


def test_a_missing_servo_at_start_is_named(fake_bus):
    bus, path = fake_bus
    bus.unplug(4)
    driver = factory("driver", "dynamixel").create(bus.robot, port=path)
    with pytest.raises(DriverError, match=r"elbow \(ID 4\) does not answer"):
        driver.connect()


def test_a_servo_that_stops_answering_holds_the_arm_and_is_named_and_an_overload_is_rebooted(fake_bus):
    from polyarm_core.driver import CommandRefused

    bus, path = fake_bus
    driver = factory("driver", "dynamixel").create(bus.robot, port=path, read_retries=5)
    driver.connect()
    try:
        robot = bus.robot
        start = driver.read()
        bus.late(6, 0.005)  # late but within the SDK's wait: read, not failed
        assert driver.read().stamp_ns > start.stamp_ns and driver.read_failures == 0
        bus.late(6, 0.0)
        bus.unplug(6)
        for _ in range(8):
            driver.read()
        assert driver.read_failures >= 5 and "forearm_roll (ID 6)" in driver.held_because
        with pytest.raises(CommandRefused, match="forearm_roll"):
            driver.write(robot.arm_joints, start.position[:len(robot.arm_joints)])
        bus.unplug(6, False)
        assert "rebooted forearm_roll (ID 6)" in driver.reboot()
        assert driver.read().stamp_ns > start.stamp_ns and not driver.held_because

        bus.overload(2)
        time.sleep(1.1)
        driver.read()
        assert "shoulder (ID 2): overload" in driver.diagnostics()["hardware_errors"], driver.diagnostics()
        assert "rebooted shoulder (ID 2)" in driver.reboot()
        time.sleep(1.1)
        driver.read()
        assert driver.diagnostics()["hardware_errors"] == "none"
        target = start.position[:len(robot.arm_joints)] + np.array([0.0, 0.2, 0.0, 0.0, 0.0, 0.0])
        for _ in range(100):
            driver.write(robot.arm_joints, target)
            time.sleep(0.01)
        assert abs(driver.read().position[1] - target[1]) < 0.05, "the rebooted shoulder follows again"
    finally:
        driver.close()


def test_a_shadow_commanded_apart_from_its_master_overloads_both(sdk):
    bus, port, ph = sdk
    for dxl_id in (2, 3):
        assert ph.write1ByteTxRx(port, dxl_id, 64, 1) == (0, 0)  # Drive Mode left unreversed on the shadow
    present = ph.read4ByteTxRx(port, 2, 132)[0]
    assert ph.write4ByteTxRx(port, 2, 116, present + 400) == (0, 0)  # the master alone moves
    time.sleep(0.5)
    assert ph.read1ByteTxRx(port, 2, 70)[0] & 0x20 and ph.read1ByteTxRx(port, 3, 70)[0] & 0x20
    assert ph.read1ByteTxRx(port, 2, 64)[0] == 0, "an overload drops torque"


@pytest.fixture
def fake_bus_process(tmp_path):
    """`polyarm fake-robot --robot wx250s --port TMP/ttyDXL` in its own process: (device link, process)."""
    from conftest import start_fake_robot
    from polyarm_common.processes import stop

    link = tmp_path / "ttyDXL"
    proc = start_fake_robot(tmp_path / "fake_bus.log", "wx250s", "--port", str(link), ready="Dynamixel bus for the wx250s")
    yield link, proc
    stop(proc)


@pytest.mark.ros
def test_the_dynamixel_driver_node_conforms_against_polyarm_fake_robot(fake_bus_process, node, start_node):
    from driver_conformance import check_the_driver_node

    link, _ = fake_bus_process
    check_the_driver_node(node, start_node, "wx250s", "--backend", "dynamixel", "--port", str(link),
                          resolution=2 * np.pi / 4096)


@pytest.mark.ros
def test_polyarm_up_on_the_dynamixel_bus_settles_a_5cm_step_and_recovers_from_each_fault_of_the_bus(fake_bus_process, node, tmp_path):
    import signal
    import subprocess
    import sys

    from conftest import Collector, spin_for, spin_until
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped
    from polyarm_common import conversions as conv
    from polyarm_common.qos import COMMAND, STATE
    from real_arm_graph import trigger

    link, fake = fake_bus_process
    log = open(tmp_path / "up.log", "w")
    up = subprocess.Popen([sys.executable, "-m", "polyarm.cli", "up", "--robot", "wx250s", "--sim", "none", "--driver",
                           "dynamixel", "--port", str(link), "--log-dir", str(tmp_path / "logs")],
                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        poses = Collector(node, PoseStamped, "controller/ee_pose", STATE)
        spin_until(node, lambda: len(poses.messages) > 50, 90, "ee_pose over the Dynamixel driver")
        spin_for(node, 1.0)
        start, quaternion = conv.pose_arrays(poses.last)
        goal = start + np.array([0.05, 0.0, 0.0])
        targets = node.create_publisher(PoseStamped, "controller/target_pose", COMMAND)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.5:  # the fake runs in real time: wall time is the robot's
            targets.publish(conv.pose_stamped(goal, quaternion, "base_link", node.get_clock().now().to_msg()))
            spin_for(node, 0.05)
        error = np.linalg.norm(conv.pose_arrays(poses.last)[0] - goal)
        print(f"wx250s over the Dynamixel bus: {1e3 * error:.2f} mm from a 5 cm step at 1.5 s")
        assert error < 3e-3, f"{1e3 * error:.1f} mm from the goal at 1.5 s"

        # the bus's faults, as a lab meets them: each named in /diagnostics, the arm held, driver/reboot brings it back
        diagnostics = Collector(node, DiagnosticArray, "/diagnostics", STATE)
        trigger(node, "driver/reboot")  # nothing at fault yet: the client is matched before the faults come

        def named(text):
            return any(text in v.value for m in diagnostics.messages for st in m.status for v in st.values)

        faults = (("overheat 7", "wrist_angle (ID 7): overheating", None), ("overload 2", "shoulder (ID 2): overload", None),
                  ("unplug 6", "forearm_roll (ID 6)", "plug 6"), ("late 6 200", "forearm_roll (ID 6)", "late 6 0"))
        for k, (fault, name, clear) in enumerate(faults):
            diagnostics.messages.clear()
            fake.stdin.write(f"{fault}\n")
            fake.stdin.flush()
            spin_until(node, lambda: named(name), 15, f"{fault}: {name} in /diagnostics")
            held = conv.pose_arrays(poses.last)[0]
            spin_for(node, 0.5)
            assert np.linalg.norm(conv.pose_arrays(poses.last)[0] - held) < 2e-3, f"{fault}: the arm held"
            if clear:
                fake.stdin.write(f"{clear}\n")
                fake.stdin.flush()
                spin_for(node, 0.3)
            assert up.poll() is None, f"{fault}: the graph ended:\n{(tmp_path / 'up.log').read_text()[-3000:]}"
            rebooted = trigger(node, "driver/reboot")  # the servo bus's recovery: REBOOT of the servos at fault
            assert rebooted.success and name.split(":")[0] in rebooted.message, rebooted.message
            after = goal + [0.0, 0.02 * (k % 2 == 0), 0.0]
            t0 = time.monotonic()
            while time.monotonic() - t0 < 1.5:
                targets.publish(conv.pose_stamped(after, quaternion, "base_link", node.get_clock().now().to_msg()))
                spin_for(node, 0.05)
            assert np.linalg.norm(conv.pose_arrays(poses.last)[0] - after) < 3e-3, f"tracking again after {fault}"
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(30)
    assert code == 0, (tmp_path / "up.log").read_text()


@pytest.mark.ros
@pytest.mark.timeout(600)
def test_a_reach_checkpoint_reaches_its_goals_through_the_dynamixel_driver_as_over_the_sim_node(
        fake_bus_process, node, tmp_path):
    """The shipped state-based BC reach checkpoint of the wx250s (`make train-wx250s-reach`: the recipe of
    conftest's reach_bc_run on this arm): 6 goals over the sim node (`polyarm eval`), then
    the same 6 through the policy node, the controller and the Dynamixel driver over the fake bus, the goal on
    perception/object_pose as perception would give it, each episode from driver/home."""
    import json
    import signal
    import subprocess
    import sys

    from conftest import REPO

    checkpoint = str(REPO / "demo" / "wx250s_reach_state.pt")
    done = subprocess.run([sys.executable, "-m", "polyarm.cli", "eval", "--robot", "wx250s", "--task", "reach",
                           "--checkpoint", checkpoint, "--episodes", "6", "--no-camera", "--out", str(tmp_path / "eval")],
                          capture_output=True, text=True, timeout=400, cwd=REPO, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    over_sim = json.loads((tmp_path / "eval" / "summary.json").read_text())["successes"]

    link, _ = fake_bus_process
    log = open(tmp_path / "up.log", "w")
    up = subprocess.Popen([sys.executable, "-m", "polyarm.cli", "up", "--robot", "wx250s", "--sim", "none", "--driver",
                           "dynamixel", "--port", str(link), "--checkpoint", checkpoint, "--task", "reach",
                           "--log-dir", str(tmp_path / "logs")], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        times = reach_goals(node, "wx250s", 6, 20.0)
        reached = sum(t is not None for t in times)
        print(f"wx250s reach: {reached}/6 through the Dynamixel driver, {over_sim}/6 over the sim node")
        assert reached >= over_sim - 2, (times, over_sim)
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(30)
    assert code == 0, (tmp_path / "up.log").read_text()
