"""RecordingSession: the episode keys' state machine over one MCAP bag per episode.

Each episode is its own rosbag2 directory (episode_0007/) with episode.json beside the bag: its label,
task, robot, seed, times, message counts and dropped camera frames. One bag per episode rather than
markers in one long bag: the bag is closed, indexed and readable the moment its episode ends, so a crash
loses at most the episode in progress; Foxglove opens each on its own; a discard is deleting a folder.

Keys: `start` begins an episode (mid-episode it ends it as a success: the SpaceMouse's one button);
`success` / `failure` end it with that label; `discard` drops it; `reset` and `quit` drop an episode in
progress (the shell then resets the sim or homes the arm, or leaves).
"""

from __future__ import annotations

import json
import shutil
import struct
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

IMAGE_TYPE = "sensor_msgs/msg/Image"
STAMP = struct.Struct("<iI")  # a Header's stamp, first in the CDR body after the 4-byte encapsulation


def header_stamp_ns(cdr: bytes) -> int:
    """The header stamp of a little-endian CDR message that starts with a std_msgs/Header."""
    sec, nanosec = STAMP.unpack_from(cdr, 4)
    return sec * 1_000_000_000 + nanosec


class FrameGaps:
    """Camera frames missing from a stream, from the gaps between their stamps at the nominal rate."""

    def __init__(self, rate_hz: float):
        self.period_ns = 1e9 / rate_hz
        self.last_ns: int | None = None
        self.dropped = 0

    def frame(self, stamp_ns: int) -> None:
        if self.last_ns is not None:
            self.dropped += max(0, round((stamp_ns - self.last_ns) / self.period_ns) - 1)
        self.last_ns = stamp_ns


@dataclass
class EpisodeInfo:
    index: int
    robot: str
    task: str
    seed: int | None
    label: str = ""
    started_ns: int = 0
    ended_ns: int = 0
    counts: dict = field(default_factory=dict)
    dropped_frames: int = 0

    @property
    def duration_s(self) -> float:
        return (self.ended_ns - self.started_ns) * 1e-9


class RecordingSession:
    def __init__(self, out: Path, robot: str, task: str, topics: dict[str, str], camera_rate_hz: float = 15.0,
                 clock_ns=time.time_ns):
        """`topics`: topic -> message type of what each episode records."""
        self.out, self.robot, self.task, self.topics = Path(out), robot, task, dict(topics)
        self.camera_rate_hz, self._clock_ns = camera_rate_hz, clock_ns
        self.out.mkdir(parents=True, exist_ok=True)
        self.next_index = 1 + max((int(p.name.split("_")[1]) for p in self.out.glob("episode_*")), default=-1)
        self.episode: EpisodeInfo | None = None
        self.finished: list[EpisodeInfo] = []
        self._bag = None
        self._gaps: dict[str, FrameGaps] = {}

    @property
    def recording(self) -> bool:
        return self.episode is not None

    def path(self, index: int) -> Path:
        return self.out / f"episode_{index:04d}"

    # ------------------------------------------------------------------ keys
    def handle(self, event: str, seed: int | None = None) -> str:
        """Act on one episode key; what happened, for the operator's terminal."""
        if event == "start":
            return self._stop("success") if self.recording else self._start(seed)
        if event in ("success", "failure"):
            return self._stop(event) if self.recording else f"no episode to end as a {event} (b starts one)"
        if event in ("discard", "reset", "quit"):
            return self._discard() if self.recording else ""
        return ""

    def _start(self, seed: int | None) -> str:
        from polyarm_data.recording import McapRecording

        index = self.next_index
        self._bag = McapRecording(self.path(index))
        for topic, msgtype in self.topics.items():
            self._bag.add_topic(topic, msgtype)
        self._gaps = {t: FrameGaps(self.camera_rate_hz) for t, m in self.topics.items() if m == IMAGE_TYPE}
        self.episode = EpisodeInfo(index, self.robot, self.task, seed, started_ns=self._clock_ns())
        self.next_index += 1
        return f"episode {index}: recording"

    def _stop(self, label: str) -> str:
        episode, bag = self.episode, self._bag
        episode.label, episode.ended_ns = label, self._clock_ns()
        episode.counts = dict(bag.counts)
        episode.dropped_frames = sum(g.dropped for g in self._gaps.values())
        bag.close()  # the bag is complete and indexed from here on
        info = asdict(episode) | {"duration_s": round(episode.duration_s, 3)}
        (self.path(episode.index) / "episode.json").write_text(json.dumps(info, indent=2) + "\n")
        self.finished.append(episode)
        self.episode, self._bag = None, None
        return f"episode {episode.index}: {label}, {episode.duration_s:.1f} s, {episode.dropped_frames} frames dropped"

    def _discard(self) -> str:
        index = self.episode.index
        self._bag.close()
        shutil.rmtree(self.path(index))
        self.episode, self._bag = None, None
        self.next_index = index  # the number is free again
        return f"episode {index}: discarded"

    # -------------------------------------------------------------- messages
    def write(self, topic: str, stamp_ns: int, data: bytes) -> None:
        """A serialized message as received; recorded only during an episode."""
        if self._bag is None or topic not in self.topics:
            return
        if topic in self._gaps:
            self._gaps[topic].frame(header_stamp_ns(data))
        self._bag.write(topic, stamp_ns, data)

    def status(self) -> str:
        """One line for the operator: the episode, its length, what was kept so far, the recorder's health."""
        kept = sum(e.label == "success" for e in self.finished), sum(e.label == "failure" for e in self.finished)
        if not self.recording:
            return f"idle; next episode {self.next_index}; kept {kept[0]} success, {kept[1]} failure"
        e = self.episode
        dropped = sum(g.dropped for g in self._gaps.values())
        seconds = (self._clock_ns() - e.started_ns) * 1e-9
        messages = sum(self._bag.counts.values())
        return f"episode {e.index}: recording {seconds:5.1f} s, {messages} messages, {dropped} frames dropped"

    def close(self) -> None:
        """Leaving: an episode in progress has no label, so it is dropped; every finished one is already on disk."""
        if self.recording:
            self._discard()


def read_episode(path: Path) -> EpisodeInfo:
    """An episode's episode.json; ValueError naming the folder when it is missing (a crashed episode)."""
    info_path = Path(path) / "episode.json"
    if not info_path.exists():
        raise ValueError(f"{path}: no episode.json (an episode that never ended: discard the folder)")
    info = json.loads(info_path.read_text())
    info.pop("duration_s", None)
    return EpisodeInfo(**info)
