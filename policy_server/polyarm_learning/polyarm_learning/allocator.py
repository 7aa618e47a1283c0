"""Training keeps freed memory in the process for the next step instead of handing it back.

glibc's malloc returns a freed block of a few MB to the OS (munmap, or a trim of the heap's top), and
the next step's tensor of that size faults its pages back in, 4 KiB at a time, which is slow in a VM.
A CQL step allocates and frees such blocks dozens of times: each critic's activations over a batch's
1 + 3N actions are 8 MB at N = 10, where the one-pass critic ran at 0.82-0.87 of the four-pass one's
speed without this and 0.97 with it (docs/benchmarks.md). Fixing the mmap threshold at its ceiling
(32 MB) and the trim threshold at 1 GB keeps them in the heap. On a C library without mallopt (musl,
macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Set glibc's thresholds for this process; False where the C library has no mallopt."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return all([mallopt(M_MMAP_THRESHOLD, mmap_threshold), mallopt(M_TRIM_THRESHOLD, trim_threshold)])
