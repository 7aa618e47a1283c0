"""The `polyarm` entry point, the demo, and the launch file's references."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def polyarm(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "polyarm.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_the_commands_and_unknown_commands_are_refused():
    done = polyarm("--help")
    assert done.returncode == 0 and all(c in done.stdout for c in ("sim", "monitor", "demo"))
    done = polyarm("teleport")
    assert done.returncode == 2 and "valid commands: sim, controller, collect, dataset, policy, train, evaluate, export, monitor, demo" in done.stderr


@pytest.mark.ros
def test_demo_starts_the_panda_sim_and_reports_its_topic_rates():
    done = polyarm("demo", "--duration", "3", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    rates = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(/\S+)\s+\S+\s+\d+\s+([\d.]+)", done.stdout, re.M)}
    assert rates["/joint_states"] >= 100
    assert rates["/camera/color/image_raw"] > 10 and rates["/camera/aligned_depth_to_color/image_raw"] > 10
    assert rates["/camera/color/camera_info"] > 10 and rates["/diagnostics"] > 0


def node_parameters(package: str) -> set[str]:
    if package == "sim_bridge":
        from sim_bridge.main import PARAMETERS

        return set(PARAMETERS)
    from polyarm_control.config import DEFAULTS, flatten

    return {"robot"} | set(flatten(DEFAULTS["panda"]))


@pytest.mark.parametrize("launch_file", sorted((REPO / "launch").glob("*.launch.py")), ids=lambda p: p.name)
def test_launch_files_name_existing_executables_and_declared_parameters(launch_file):
    tree = ast.parse(launch_file.read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Node"]
    assert calls
    for call in calls:
        kwargs = {k.arg: k.value for k in call.keywords}
        package, executable = kwargs["package"].value, kwargs["executable"].value
        setup = next(p for p in (REPO / "ros2_ws" / "src" / package / "setup.py", REPO / package / "setup.py") if p.exists()).read_text()
        assert f'"{executable} = ' in setup, f"{package} has no console script {executable}"
        names = [k.value for d in ast.walk(kwargs["parameters"]) if isinstance(d, ast.Dict) for k in d.keys]
        assert names and set(names) <= node_parameters(package), names
