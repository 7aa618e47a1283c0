"""The ROS packaging: colcon builds every package, and console scripts run from the install space."""

from __future__ import annotations

import subprocess
import sys

from conftest import WORKSPACE_PACKAGES as PACKAGES
from conftest import sourced_environment


def run_sourced(install, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f". {install}/setup.bash && {command}"], capture_output=True, text=True,
                          timeout=120, env=sourced_environment())


def test_colcon_installs_every_package_with_its_ament_index_entry(install_space):
    for package in PACKAGES:
        assert (install_space / package / "share" / "ament_index" / "resource_index" / "packages" / package).exists()
        assert (install_space / package / "share" / package / "package.xml").exists()
    assert list((install_space / "polyarm_description" / "share" / "polyarm_description" / "mjcf").glob("*.xml"))


def test_console_scripts_run_from_the_install_space(install_space):
    done = run_sourced(install_space, f"{install_space}/polyarm/lib/polyarm/polyarm --help")
    assert done.returncode == 0, done.stderr
    assert "sim" in done.stdout and "monitor" in done.stdout
    done = run_sourced(install_space, f"{install_space}/sim_bridge/lib/sim_bridge/sim --robot ur5")
    assert done.returncode == 2 and "invalid choice: 'ur5'" in done.stderr
    # the install space's copies are the ones imported, not the development tree's
    done = run_sourced(install_space, f"{sys.executable} -c 'import sim_bridge, polyarm_description; "
                       "print(sim_bridge.__file__); print(polyarm_description.__file__)'")
    assert done.returncode == 0, done.stderr
    for line in done.stdout.split():
        assert line.startswith(str(install_space)), line
