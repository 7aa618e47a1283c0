"""The layering rule (docs/architecture.md, "Layers"): each package imports only the packages below it,
and the ground floor imports no rclpy, MuJoCo or torch. Every import is read, module level and inside
functions alike, from the source with ast: nothing is imported to check it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "ros2_ws" / "src"

CORE, DESCRIPTION, COMMON = "polyarm_core", "polyarm_description", "polyarm_common"
FLOOR = {CORE, DESCRIPTION, COMMON}
# package: the polyarm packages it may import (the layer table of docs/architecture.md)
ALLOWED = {
    CORE: set(),
    DESCRIPTION: {CORE},
    COMMON: {CORE},
    "polyarm_control": FLOOR,
    "polyarm_drivers": FLOOR | {"polyarm_control"},  # the in-driver controller (torque path b)
    "polyarm_cameras": FLOOR,
    "sim_bridge": FLOOR | {"polyarm_control", "polyarm_drivers", "polyarm_cameras"},
    "polyarm_perception": FLOOR | {"polyarm_cameras", "sim_bridge"},  # the task's object shape; the sim's depth camera
    "polyarm_calibration": FLOOR | {"polyarm_cameras"},
    "polyarm_teleop": FLOOR | {"polyarm_data"},  # the per-episode MCAP bags
    "policy_server": FLOOR,
    "polyarm_data": FLOOR | {"sim_bridge"},
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


def package_dirs() -> dict[str, Path]:
    return {p.name: p for p in sorted(SRC.iterdir()) if (p / "package.xml").exists()}


def imports(path: Path):
    """(line, top-level module) of every import in a file."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def package_imports(package: str, root: Path):
    for path in sorted(root.rglob("*.py")):
        if "build" in path.parts or "install" in path.parts:
            continue
        for line, module in imports(path):
            yield path, line, module


def test_every_package_is_in_the_layer_table():
    assert set(package_dirs()) == set(ALLOWED), "a new package needs its place in ALLOWED and docs/architecture.md"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_import_runs_up_the_layers(package):
    packages = set(ALLOWED)
    wrong = []
    for path, line, module in package_imports(package, package_dirs()[package]):
        where = f"{path.relative_to(SRC)}:{line}"
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


def test_the_layer_check_names_the_offending_file_and_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy\n\ndef f():\n    from sim_bridge.envs import PolyarmEnv\n")
    assert list(imports(bad)) == [(1, "numpy"), (4, "sim_bridge")]


def test_no_symlink_is_tracked():
    import subprocess

    listed = subprocess.run(["git", "ls-files", "-s"], capture_output=True, text=True, cwd=SRC.parents[1], check=True)
    links = [line.split("\t")[1] for line in listed.stdout.splitlines() if line.startswith("120000")]
    assert not links, f"tracked symlinks: {links}"
