"""Starting `polyarm` commands in their own processes and stopping them in order (demo, benchmarks, tests)."""

from __future__ import annotations

import signal
import subprocess
import sys


def start_polyarm(*args: str, **popen_kwargs) -> subprocess.Popen:
    """`polyarm ARGS...` with this interpreter, in a process of its own."""
    return subprocess.Popen([sys.executable, "-m", "polyarm.cli", *args], **popen_kwargs)


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGINT (the nodes shut down in order on it), then SIGKILL if it has not exited within `timeout` s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
