"""A lab's own driver, from a package outside polyarm (tests/plugins/lab_servo_arm), installed with pip as a
lab would: found through its polyarm.drivers entry point, it passes the driver conformance suite through the
RobotDriver interface and through `polyarm driver --backend lab_servo_arm`, with its own options as flags."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from driver_conformance import check_the_driver, check_the_driver_node
from polyarm_core.registry import factory, names
from polyarm_description import get_robot

PLUGIN = Path(__file__).resolve().parent / "plugins" / "lab_servo_arm"


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    """pip install of the plugin into a folder of its own, put on sys.path (and PYTHONPATH for the nodes).
    It builds from a copy, so the checkout gets no build folder."""
    site, source = tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("source") / PLUGIN.name
    shutil.copytree(PLUGIN, source)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                           "--no-build-isolation", "--target", str(site), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(site))
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), previous]))
    yield site
    sys.path.remove(str(site))
    if previous is None:
        os.environ.pop("PYTHONPATH")
    else:
        os.environ["PYTHONPATH"] = previous


def test_a_driver_is_not_there_until_its_package_is_installed():
    assert "lab_servo_arm" not in names("driver")


def test_an_installed_driver_is_found_by_its_entry_point_and_conforms(installed_plugin):
    assert "lab_servo_arm" in names("driver")
    driver_class = factory("driver", "lab_servo_arm")
    driver = driver_class.create(get_robot("wx250s"), joint_speed=2.0)
    driver.connect()
    try:
        check_the_driver(driver)
    finally:
        driver.close()


def test_polyarm_driver_lists_the_installed_driver_and_its_options(installed_plugin):
    done = subprocess.run([sys.executable, "-m", "polyarm.cli", "driver", "--backend", "lab_servo_arm", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "lab_servo_arm" in done.stdout and "--joint-speed" in done.stdout and "options of the lab_servo_arm driver" in done.stdout


@pytest.mark.ros
def test_the_installed_driver_conforms_through_polyarm_driver(installed_plugin, node, start_node):
    check_the_driver_node(node, start_node, "wx250s", "--backend", "lab_servo_arm", "--joint-speed", "2.0")
