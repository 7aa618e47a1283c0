"""The layering rule (docs/architecture.md, "Layers"): each package imports only the packages below it,
and the ground floor imports no rclpy, MuJoCo or torch. Every import is read, module level and inside
functions alike, from the source with ast: nothing is imported to check it."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
from workspace import REPO, package_dirs

CORE, DESCRIPTION, COMMON = "polyarm_core", "polyarm_description", "polyarm_common"
FLOOR = {CORE, DESCRIPTION, COMMON}
# package: the polyarm packages it may import (the layer table of docs/architecture.md); no exceptions
ALLOWED = {
    CORE: set(),
    DESCRIPTION: {CORE},
    COMMON: {CORE},
    "polyarm_control": FLOOR,
    "polyarm_drivers": FLOOR | {"polyarm_control"},  # the in-driver controller (torque path b)
    "polyarm_cameras": FLOOR,
    "polyarm_data": FLOOR,
    "sim_bridge": FLOOR | {"polyarm_control", "polyarm_drivers", "polyarm_cameras", "polyarm_data"},
    "polyarm_fakes": FLOOR | {"polyarm_drivers", "sim_bridge"},
    "polyarm_perception": FLOOR | {"polyarm_cameras"},
    "polyarm_calibration": FLOOR | {"polyarm_cameras"},
    "polyarm_teleop": FLOOR | {"polyarm_data"},  # the per-episode MCAP bags
    "policy_server": FLOOR,
    "polyarm_learning": FLOOR | {"sim_bridge", "polyarm_perception", "policy_server", "polyarm_data"},
    "polyarm_bringup": FLOOR | {"polyarm_control", "polyarm_drivers", "polyarm_cameras", "sim_bridge", "polyarm_perception",
                                "polyarm_calibration", "policy_server", "polyarm_data", "polyarm_learning"},
}
ALLOWED["polyarm"] = set(ALLOWED) - {"polyarm"}
# third-party modules a package must never load: the ground floor is numpy only (OpenCV's resize aside),
# the descriptions load MuJoCo only where a model is compiled, and the policy runtime never loads the simulator
FORBIDDEN = {
    CORE: {"rclpy", "mujoco", "torch", "sensor_msgs", "geometry_msgs", "std_msgs"},
    DESCRIPTION: {"rclpy", "torch"},
    "policy_server": {"mujoco"},
    "polyarm_cameras": {"mujoco", "torch"},
    "polyarm_calibration": {"mujoco", "torch"},
    "polyarm_teleop": {"mujoco", "torch"},
}
# ROS packages a polyarm package may import; each one imported must be in its package.xml
ROS_PACKAGES = {"rclpy", "sensor_msgs", "geometry_msgs", "std_msgs", "std_srvs", "diagnostic_msgs", "rosgraph_msgs",
                "rcl_interfaces", "builtin_interfaces", "visualization_msgs", "launch", "launch_ros", "ament_index_python"}


MODULE_PATH = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_]*)?")


def imports(path: Path, by_name=frozenset()):
    """(line, top-level module) of every import in a file, and of every string that names a module of
    `by_name` ("pkg.module:function", or a package's name): what importlib or a launch file loads later."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_PATH.fullmatch(node.value):
            top = node.value.split(":")[0].split(".")[0]
            if top in by_name:
                yield node.lineno, top


def package_imports(package: str, root: Path):
    """Every import of a package, and every module it names for importlib or a launch file."""
    for path in sorted(root.rglob("*.py")):
        if "build" in path.parts or "install" in path.parts:
            continue
        for line, module in imports(path, by_name=set(ALLOWED) - {"polyarm"}):  # "polyarm" is also a word: the CLI is run by name
            yield path, line, module


def test_every_package_is_in_the_layer_table():
    assert set(package_dirs()) == set(ALLOWED), "a new package needs its place in ALLOWED and docs/architecture.md"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_import_runs_up_the_layers(package):
    packages = set(ALLOWED)
    wrong = []
    for path, line, module in package_imports(package, package_dirs()[package]):
        where = f"{path.relative_to(REPO)}:{line}"
        if module in packages and module != package and module not in ALLOWED[package]:
            wrong.append(f"{where} imports {module}, which {package} may not import")
        if module in FORBIDDEN.get(package, ()):
            wrong.append(f"{where} imports {module}, which {package} must never load")
    assert not wrong, "\n".join(wrong)


def test_the_packages_import_each_other_without_a_cycle():
    packages = package_dirs()
    edges = {p: {m for _, _, m in package_imports(p, d) if m in packages and m != p} for p, d in packages.items()}
    visiting, done = [], set()

    def visit(p):
        if p in visiting:
            cycle = visiting[visiting.index(p):] + [p]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if p in done:
            return
        visiting.append(p)
        for q in sorted(edges[p]):
            visit(q)
        visiting.pop()
        done.add(p)

    for p in sorted(edges):
        visit(p)


def declared_dependencies(package_dir: Path) -> set[str]:
    """The packages a package.xml names as dependencies (depend, exec_depend, build_depend...)."""
    root = ElementTree.parse(package_dir / "package.xml").getroot()
    return {e.text.strip() for e in root if e.tag.endswith("depend") and e.tag != "test_depend"}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_xml_declares_exactly_the_polyarm_packages_it_imports_and_every_ros_package(package):
    """rosdep and colcon order builds and installs by package.xml: it must say what the imports say."""
    folder = package_dirs()[package]
    imported = {m for _, _, m in package_imports(package, folder)}
    declared = declared_dependencies(folder)
    polyarm = set(ALLOWED)
    problems = []
    if missing := (imported & polyarm) - {package} - declared:
        problems.append(f"imports but does not declare: {sorted(missing)}")
    if extra := (declared & polyarm) - imported:
        problems.append(f"declares but never imports: {sorted(extra)}")
    if missing_ros := (imported & ROS_PACKAGES) - declared:
        problems.append(f"imports ROS packages it does not declare: {sorted(missing_ros)}")
    assert not problems, f"{folder.relative_to(REPO)}/package.xml: " + "; ".join(problems)


def test_every_package_lives_in_a_folder_of_the_design_card():
    homes = {"polyarm_learning": "policy_server", "policy_server": "policy_server", "sim_bridge": "sim_bridge",
             "polyarm_fakes": "sim_bridge", "polyarm_calibration": "calibration", "polyarm_bringup": "launch"}
    for package, folder in package_dirs().items():
        top = folder.relative_to(REPO).parts[0]
        assert top == homes.get(package, "ros2_ws"), f"{package} is under {top}/"


def test_the_layer_check_names_the_offending_file_and_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy\n\ndef f():\n    from sim_bridge.envs import PolyarmEnv\n\n"
                   "DRIVERS = {'mujoco': 'sim_bridge.devices:standalone_driver'}\nNOTE = 'see sim_bridge.envs for more'\n")
    assert list(imports(bad)) == [(1, "numpy"), (4, "sim_bridge")]
    assert list(imports(bad, by_name={"sim_bridge"})) == [(1, "numpy"), (4, "sim_bridge"), (6, "sim_bridge")]


def test_no_symlink_is_tracked():
    import subprocess

    listed = subprocess.run(["git", "ls-files", "-s"], capture_output=True, text=True, cwd=REPO, check=True)
    links = [line.split("\t")[1] for line in listed.stdout.splitlines() if line.startswith("120000")]
    assert not links, f"tracked symlinks: {links}"
