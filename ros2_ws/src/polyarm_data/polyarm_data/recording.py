"""McapRecording: serialized ROS 2 messages into a rosbag2 MCAP bag, through rosbags.

Plain Python (no rclpy): the recorder node hands it the CDR bytes it received, so nothing is
deserialized on the way to disk. Message definitions come from rosbags' Jazzy typestore, so Foxglove
and `rosbags` can decode every topic. The bag is readable once close() has run.
"""

from __future__ import annotations

from pathlib import Path


class McapRecording:
    def __init__(self, path: Path):
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore

        self.path = Path(path)
        if self.path.exists():
            raise ValueError(f"recording {self.path} already exists; choose a new directory")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._typestore = get_typestore(Stores.ROS2_JAZZY)
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections: dict = {}
        self.counts: dict[str, int] = {}

    def knows(self, msgtype: str) -> bool:
        return msgtype in self._typestore.types

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Start recording `topic`; ValueError for a message type without a known definition."""
        if not self.knows(msgtype):
            raise ValueError(f"{topic}: no message definition for {msgtype} in the ROS 2 Jazzy typestore")
        self._connections[topic] = self._writer.add_connection(topic, msgtype, typestore=self._typestore)
        self.counts[topic] = 0

    def write(self, topic: str, stamp_ns: int, data: bytes) -> None:
        self._writer.write(self._connections[topic], stamp_ns, data)
        self.counts[topic] += 1

    def close(self) -> None:
        """Write the summary and metadata.yaml; idempotent."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read_messages(path: Path, topics: list[str] | None = None):
    """(topic, timestamp ns, message) for each message of a bag, decoded with rosbags."""
    from rosbags.highlevel import AnyReader

    with AnyReader([Path(path)]) as reader:
        connections = [c for c in reader.connections if topics is None or c.topic in topics]
        for connection, stamp, data in reader.messages(connections=connections):
            yield connection.topic, stamp, reader.deserialize(data, connection.msgtype)
