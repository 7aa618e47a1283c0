"""The polyarm graph: which nodes run, with which parameter files and parameters.

This is the one description of the graph. `launch/polyarm.launch.py` turns it into `ros2 launch`
Node actions on a ROS 2 machine; `polyarm up` (polyarm_bringup.supervisor) starts the same nodes as
processes on a pip-only machine. Each node is one process: the 100 Hz controller never shares one
with inference, rendering or recording.

Parameters come from the YAML files in polyarm/config (what a lab tunes once), then from the
bringup's arguments (robot, task, checkpoint...), which win.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from polyarm_core.options import described
from polyarm_core.registry import factory, names
from polyarm_description import ROBOTS

CONFIG_DIR = Path(__file__).resolve().parent / "config"
# the sim node's physics engine, or none: a real arm, through `driver` or started by the lab outside this graph
SIMS = ("mujoco", "pybullet", "none")
# with sim none: the arm's driver node in this graph ("": none, the lab starts it), any installed but the sim's own
DRIVERS = ("", *(name for name in names("driver") if name != "mujoco"))
# Where the OSC law runs: "node" (the controller node, over topics at 100 Hz) or "in-driver" (inside the
# driver's own real-time loop). "": the driver's choice: in-driver for a driver that declares a real-time loop of
# its own (franky; docs/architecture.md, "The torque path"), node for everything else.
CONTROLLERS = ("", "node", "in-driver")
CAMERA_BACKENDS = ("", *names("camera"))  # with sim none: the camera node's backend ("": none, or started outside)
# the bringup's arguments that go to the driver node, as the option of the same name where its driver has one
DRIVER_ARGUMENTS = {"host": "robot_ip", "port": "port", "realtime": "realtime"}


def driver_has_realtime_loop(driver: str) -> bool:
    return bool(driver) and factory("driver", driver).can("realtime_loop")


@dataclass(frozen=True)
class NodeLaunch:
    """One node of the graph. `executable` is both the ament console script in `package` and the
    `polyarm` command that runs the same main()."""

    name: str
    package: str
    executable: str
    params_file: Path
    parameters: dict = field(default_factory=dict)
    stop_rank: int = 0  # shutdown order: lower stops first


@dataclass(frozen=True)
class Bringup:
    """The bringup's arguments (the `ros2 launch` arguments and `polyarm up` options)."""

    robot: str = "panda"
    sim: str = "mujoco"
    camera: bool = True
    checkpoint: str = ""
    task: str = ""
    seed: int = 0
    namespace: str = ""
    record: str = ""  # MCAP output directory; empty: no recorder
    driver: str = ""  # with sim none: the registry name of the arm's driver (a polyarm.drivers entry point)
    robot_ip: str = ""  # the driver's robot address (franky, xarm)
    port: str = ""  # the driver's serial device (dynamixel: the U2D2, or the fake bus's pty)
    realtime: str = "enforce"  # franky: require a real-time kernel, or "ignore" (franky-sim, no RT kernel)
    controller: str = ""  # CONTROLLERS
    # The perception node: the object's pose from the depth camera on perception/object_pose, which a
    # state-based policy then reads instead of the sim's ground truth (in sim the camera moves to the
    # robot profile's perception_camera_view).
    perception: bool = False
    camera_pose: str = ""  # with sim none: the camera's hand-eye YAML in base_link, for perception
    camera_backend: str = ""  # with sim none: the camera node's backend (realsense, opencv; "": no camera node)
    camera_info: str = ""  # the opencv camera's intrinsics (camera_info YAML)

    @property
    def law_in_driver(self) -> bool:
        return self.controller == "in-driver" or (self.controller == "" and driver_has_realtime_loop(self.driver))

    @classmethod
    def from_strings(cls, **values: str) -> Bringup:
        """From `ros2 launch` arguments (all strings), each checked with a message naming the bad one."""
        for flag in ("camera", "perception"):
            if values.get(flag, "true") not in ("true", "false"):
                raise ValueError(f"{flag}:={values.get(flag)} must be true or false")
        try:
            seed = int(values["seed"])
        except ValueError:
            raise ValueError(f"seed:={values['seed']} must be an integer") from None
        return cls(**{**values, "camera": values.get("camera", "true") == "true", "seed": seed,
                      "perception": values.get("perception", "false") == "true"})

    def __post_init__(self):
        if self.robot not in ROBOTS:
            raise ValueError(f"unknown robot {self.robot!r}; one of {', '.join(ROBOTS)}")
        if self.sim not in SIMS:
            raise ValueError(f"unknown sim {self.sim!r}; one of {', '.join(SIMS)}")
        if self.driver not in DRIVERS:
            raise ValueError(f"unknown driver {self.driver!r}; one of {', '.join(d for d in DRIVERS if d)}")
        if self.driver and self.sim != "none":
            raise ValueError(f"driver:={self.driver} drives a real arm; give sim:=none with it")
        options = described(factory("driver", self.driver).config_class) if self.driver else {}
        if "host" in options and not self.robot_ip:
            raise ValueError(f"driver:={self.driver} needs the robot's address (robot_ip:=IP)")
        if "port" in options and not self.port:
            raise ValueError(f"driver:={self.driver} needs the bus's serial device (port:=PATH)")
        if self.controller not in CONTROLLERS:
            raise ValueError(f"unknown controller {self.controller!r}; one of node, in-driver")
        if self.controller == "in-driver" and not driver_has_realtime_loop(self.driver):
            with_loop = [d for d in DRIVERS if driver_has_realtime_loop(d)]
            raise ValueError(f"controller:=in-driver needs a driver with a real-time loop ({', '.join(with_loop)})")
        if self.realtime not in ("enforce", "ignore"):
            raise ValueError(f"realtime:={self.realtime} must be enforce or ignore")
        if self.camera_backend not in CAMERA_BACKENDS:
            raise ValueError(f"unknown camera backend {self.camera_backend!r}; one of {', '.join(b for b in CAMERA_BACKENDS if b)}")
        if self.camera_backend and self.sim != "none":
            raise ValueError("camera_backend:= starts a real camera's node; in sim the sim node is the camera")
        if self.perception and self.sim != "none" and not self.camera:
            raise ValueError("perception needs the sim camera: drop camera:=false")
        if self.perception and self.sim == "none" and not self.camera_pose:
            raise ValueError("perception on a robot needs the camera's pose: camera_pose:=FILE (polyarm calibrate hand-eye)")


def describe(b: Bringup) -> list[NodeLaunch]:
    """The nodes, in start order. Shutdown follows stop_rank: the policy stops first (and asks the
    controller to hold), then the recorder closes its file, then the controller, then the sim."""
    nodes = []
    trained = checkpoint_spec(b.checkpoint) if b.checkpoint else {}
    if b.sim != "none":
        sim = {"robot": b.robot, "backend": b.sim, "task": b.task, "seed": b.seed, "camera.enabled": b.camera}
        if b.perception:
            if trained.get("image_size"):
                raise ValueError("perception serves state-based checkpoints; this one reads images")
            sim.update(perception_view(b.robot))
        elif b.camera:
            sim.update(trained.get("camera", {}))
        nodes.append(NodeLaunch("sim", "sim_bridge", "sim", CONFIG_DIR / "sim.yaml", sim, stop_rank=3))
    if b.camera_backend:
        camera = {"backend": b.camera_backend, "camera_info_file": str(Path(b.camera_info).resolve()) if b.camera_info else ""}
        nodes.append(NodeLaunch("camera", "polyarm_cameras", "camera", CONFIG_DIR / "camera.yaml", camera, stop_rank=3))
    if b.perception:
        perception = {"robot": b.robot, "task": b.task or "pick"}
        perception.update({"camera_pose_file": str(Path(b.camera_pose).resolve())} if b.sim == "none" else perception_view(b.robot))
        nodes.append(NodeLaunch("perception", "polyarm_perception", "perception", CONFIG_DIR / "perception.yaml",
                                perception, stop_rank=1))
    if b.driver:  # the arm's driver node, stopped last (after the controller has held it), or with the
        # controller's rank where the law runs inside it
        driver = {"robot": b.robot, "backend": b.driver, "controller": "in-driver" if b.law_in_driver else "external"}
        options = described(factory("driver", b.driver).config_class)
        driver.update({option: getattr(b, argument) for option, argument in DRIVER_ARGUMENTS.items() if option in options})
        nodes.append(NodeLaunch("driver", "polyarm_drivers", "driver", CONFIG_DIR / "driver.yaml", driver,
                                stop_rank=2 if b.law_in_driver else 3))
    if not b.law_in_driver:
        nodes.append(NodeLaunch("controller", "polyarm_control", "controller", CONFIG_DIR / "controller.yaml",
                                {"robot": b.robot}, stop_rank=2))
    if b.checkpoint:
        # in sim the object pose is the sim's ground truth, unless perception is asked for; on the robot
        # it comes from perception
        object_topic = "sim/object_pose" if b.sim != "none" and not b.perception else "perception/object_pose"
        task = b.task if b.task in trained["tasks"] else ""  # else the checkpoint's (first) task
        policy = {"robot": b.robot, "checkpoint": str(Path(b.checkpoint).resolve()), "task": task,
                  "object_pose_topic": object_topic}
        nodes.append(NodeLaunch("policy", "policy_server", "policy", CONFIG_DIR / "policy.yaml", policy, stop_rank=0))
    if b.record:
        nodes.append(NodeLaunch("recorder", "polyarm_data", "record", CONFIG_DIR / "recorder.yaml",
                                {"output": str(Path(b.record).resolve())}, stop_rank=1))
    if b.sim != "none":  # the sim's /clock drives every node, as Gazebo's does (see sim_bridge.node)
        nodes = [replace(n, parameters={**n.parameters, "use_sim_time": True}) for n in nodes]
    return nodes


def perception_view(robot: str) -> dict:
    """The sim camera's pose parameters for perception (the sim's and the perception node's alike)."""
    position, look_at = ROBOTS[robot].perception_camera_view
    return {"camera.position": list(position), "camera.look_at": list(look_at)}


def checkpoint_spec(path: str) -> dict:
    """What the graph takes from a checkpoint: its task names, and the sim camera parameters of the
    camera its training data was recorded with, so the sim-in-the-loop images are the images the
    policy was trained on."""
    from policy_server.spec import read_spec  # without torch: the launch process never loads it

    checkpoint = read_spec(path)
    camera = checkpoint.get("training", {}).get("dataset_spec", {}).get("camera") or {}
    sim_camera = {"camera.width": int(camera["width"]), "camera.height": int(camera["height"])} if "width" in camera else {}
    return {"tasks": list(checkpoint["tasks"]["names"]), "camera": sim_camera,
            "image_size": int(checkpoint.get("observation", {}).get("image_size", 0))}


def launch_arguments(node: NodeLaunch, namespace: str = "") -> dict:
    """The launch_ros Node(...) arguments that start `node`: its parameter file, then the bringup's parameters."""
    return {"package": node.package, "executable": node.executable, "name": node.name, "namespace": namespace,
            "parameters": [str(node.params_file), node.parameters], "output": "screen"}


def parameter_file_text(parameters: dict) -> str:
    """A ROS 2 parameter file that sets `parameters` on any node that loads it."""
    import yaml

    return yaml.safe_dump({"/**": {"ros__parameters": parameters}}, sort_keys=False)
