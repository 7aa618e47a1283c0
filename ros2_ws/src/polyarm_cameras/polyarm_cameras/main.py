"""`polyarm camera --backend realsense|opencv [options]`: a real camera's node, in its own process.

    polyarm camera --backend realsense [--serial S] [--width 640 --height 480 --fps 30] [--playback FILE.db3]
    polyarm camera --backend opencv --device 0|PATH|URL [--camera-info FILE.yaml]
"""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    from polyarm_common.entry import parameter_overrides, run_node, split_ros_args
    from polyarm_common.ros_env import configure_ros_environment

    parser = argparse.ArgumentParser(prog="polyarm camera", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["realsense", "opencv"], help="default realsense")
    parser.add_argument("--serial", help="realsense: the camera's serial number (default: the first found)")
    parser.add_argument("--playback", help="realsense: play this .db3 recording (looped) instead of a camera")
    parser.add_argument("--device", help="opencv: /dev/video index, a video file or a stream URL")
    parser.add_argument("--camera-info", dest="camera_info_file", help="opencv: intrinsics (camera_info YAML)")
    parser.add_argument("--width", type=int)
    parser.add_argument("--height", type=int)
    parser.add_argument("--fps", type=float)
    own, ros_args = split_ros_args(argv)
    args = parser.parse_args(own)
    configure_ros_environment()
    # the backends say what the device does (connected, unplugged, reconnected) through logging
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] [camera]: %(message)s")
    given = {k: v for k, v in vars(args).items() if v is not None}
    if given.get("backend", "realsense") == "realsense" and "fps" in given:
        given["fps"] = int(given["fps"])

    def make_node():
        from polyarm_cameras.node import CameraNode

        return CameraNode(parameter_overrides(given))

    def check(node) -> int | None:
        failure = node.check()
        if failure is not None:
            print(f"polyarm camera: {failure}", file=sys.stderr)
            return 1
        return None

    return run_node("camera", ros_args, make_node, check)


if __name__ == "__main__":
    sys.exit(main())
