"""The driver conformance suite (tests/driver_conformance.py) on the MuJoCo arm: through the RobotDriver
interface, and through the driver node (`polyarm driver`) in its own process."""

from __future__ import annotations

import pytest
from driver_conformance import check_the_driver, check_the_driver_node
from polyarm_core.registry import factory
from polyarm_description import get_robot

# (backend, robot): every command interface; the real drivers' tests add their own rows
CASES = [("mujoco", "panda"), ("mujoco", "xarm7"), ("mujoco", "wx250s")]


@pytest.fixture(params=CASES, ids=[f"{b}-{r}" for b, r in CASES])
def driver(request):
    backend, robot = request.param
    driver = factory("driver", backend).create(get_robot(robot))
    driver.connect()
    yield driver
    driver.close()


def test_the_driver_conforms_through_its_interface(driver):
    check_the_driver(driver)


def test_an_unknown_backend_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown driver .ur_rtde.; valid: dynamixel, franky, mujoco"):
        factory("driver", "ur_rtde")


@pytest.mark.ros
@pytest.mark.parametrize("backend,robot", CASES[:2], ids=[f"{b}-{r}" for b, r in CASES[:2]])
def test_the_driver_node_conforms(backend, robot, node, start_node):
    check_the_driver_node(node, start_node, robot, "--backend", backend)
