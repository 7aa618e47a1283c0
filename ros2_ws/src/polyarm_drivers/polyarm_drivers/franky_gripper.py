"""FrankaGripper: franky's Gripper (its own connection) behind one worker thread.

The worker runs the newest command (a grasp with a force when closing, a move to a width when opening) and
reads the width for joint_states between commands. libfranka's gripper takes one call at a time (a width
read beside an asynchronous move deadlocked on franky-sim), so no two calls ever overlap, and the arm's
command stream never waits on the gripper. While a gripper motion runs (about a second), `width` is the
one it started from.
"""

from __future__ import annotations

import threading

GRIPPER_SPEED = 0.1  # m/s
GRASP_FORCE = 20.0  # N
GRIPPER_POLL_S = 0.02


class FrankaGripper:
    def __init__(self, gripper, max_width: float):
        self._gripper, self.max_width = gripper, max_width
        self.width = float(gripper.width)  # m between the fingers, as last read
        self.last_error = ""
        self._lock = threading.Lock()
        self._target = None  # "grasp" or a width (m): the newest command
        self._request = None  # the command the worker has still to run
        self._wake = threading.Event()
        self._running = False
        self._thread = threading.Thread(target=self._work, name="gripper", daemon=True)

    def start(self) -> None:
        self._running = True
        self._thread.start()

    def command(self, target) -> None:
        """"grasp", or a width in m; a command equal to the last one is dropped (teleop repeats its gripper
        state at 10-30 Hz)."""
        with self._lock:
            if target == self._target:
                return
            self._target = self._request = target
        self._wake.set()

    def _work(self) -> None:
        """The only caller of the gripper: the newest command, then the width, every GRIPPER_POLL_S."""
        while self._running:
            with self._lock:
                request, self._request = self._request, None
            try:
                if request == "grasp":
                    self._gripper.grasp(0.0, GRIPPER_SPEED, GRASP_FORCE, 0.005, self.max_width)
                elif request is not None:
                    self._gripper.move(request, GRIPPER_SPEED)
                self.width = float(self._gripper.width)
            except Exception as err:  # noqa: BLE001 - a failed grasp (nothing there) or a lost gripper: reported
                self.last_error = f"gripper: {err}"
                with self._lock:  # a failed command is not "the last one": the same command, sent again, runs again
                    if request is not None and self._target == request:
                        self._target = None
            self._wake.wait(GRIPPER_POLL_S)
            self._wake.clear()

    def close(self) -> None:
        """Stop the worker once the gripper motion in progress ends."""
        self._running = False
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=3.0)
