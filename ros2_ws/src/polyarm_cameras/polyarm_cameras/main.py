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
    from polyarm_core.registry import names, parse_with_backend_options

    parser = argparse.ArgumentParser(prog="polyarm camera", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=names("camera"), help="default realsense; `--backend B --help` lists B's options")
    own, ros_args = split_ros_args(argv)
    given = {k: v for k, v in parse_with_backend_options(parser, own, "camera", default="realsense").items() if v is not None}
    configure_ros_environment()
    # the backends say what the device does (connected, unplugged, reconnected) through logging
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] [camera]: %(message)s")

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
