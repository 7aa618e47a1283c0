"""`polyarm record`: the recorder node; every topic of the graph (but the excluded ones) into an MCAP bag.

It looks for new topics every `discovery_period` s and subscribes to each best-effort (compatible
with every publisher), taking the serialized bytes as they arrive. SIGINT or SIGTERM closes the bag.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from polyarm_common.parameters import declare_parameters
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from polyarm_data.recording import McapRecording

PARAMETERS = {  # name: (default, description)
    "output": ("", "bag directory to create (MCAP)"),
    "exclude": (["/none"], "topics not to record; relative names resolve in the recorder's namespace"),
    "discovery_period": (1.0, "s between looks for new topics"),
}
RAW_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)


class RecorderNode(Node):
    def __init__(self, overrides=()):
        super().__init__("recorder", parameter_overrides=list(overrides))
        p = declare_parameters(self, PARAMETERS)
        output = p["output"]
        if not output:
            raise ValueError("no output bag given (--output DIR)")
        self.exclude = {self.resolve_topic_name(name) for name in self.get_parameter("exclude").value}
        self.recording = McapRecording(Path(output))
        self._discover()
        self.create_timer(float(self.get_parameter("discovery_period").value), self._discover)
        self.get_logger().info(f"recording to {output} (MCAP); not recording {sorted(self.exclude)}")

    def _discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic in self.recording.counts or topic in self.exclude or len(types) != 1:
                continue
            try:
                msg_class = get_message(types[0])
                self.recording.add_topic(topic, types[0])
            except (ValueError, AttributeError, ModuleNotFoundError) as err:
                self.exclude.add(topic)
                self.get_logger().warn(f"not recording {topic}: {err}")
                continue
            self.create_subscription(msg_class, topic, lambda data, t=topic: self._on_message(t, data), RAW_QOS, raw=True)

    def _on_message(self, topic: str, data: bytes) -> None:
        self.recording.write(topic, self.get_clock().now().nanoseconds, data)

    def close(self) -> None:
        self.recording.close()
        total = sum(self.recording.counts.values())
        self.get_logger().info(f"closed {self.recording.path}: {total} messages on {len(self.recording.counts)} topics")


def get_message(msgtype: str):
    """The Python class of 'pkg/msg/Type' (rosidl_runtime_py is not among the pip wheels)."""
    package, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def main(argv: list[str] | None = None) -> int:
    from polyarm_common.entry import parameter_overrides, run_node, split_ros_args
    from polyarm_common.ros_env import configure_ros_environment

    parser = argparse.ArgumentParser(prog="polyarm record", description=__doc__)
    parser.add_argument("--output", help="bag directory to create")
    own, ros_args = split_ros_args(argv)
    args = parser.parse_args(own)
    configure_ros_environment()
    return run_node("record", ros_args, lambda: RecorderNode(parameter_overrides({"output": args.output})))


if __name__ == "__main__":
    sys.exit(main())
