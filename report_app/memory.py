"""Freed memory kept in the server for the next month's read, not handed back to the system.

A month the server does not hold is read into some hundred megabytes of buffers, most of them
freed again once its compact structures are built. Handed back to the system, that memory had
to be faulted in afresh at the next read, and on the project's VM fresh pages cost 2–7 ms per
MB (a jump to such a month spent over half its 1.5–2 s of CPU there). Kept in the process, the
next read reuses it: the server's resident size stays near its high-water mark instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

import pyarrow as pa

log = logging.getLogger(__name__)
# glibc's mallopt parameters (malloc.h) and its largest allowed mmap threshold (64-bit).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
TRIM_THRESHOLD = 1024 * 1024 * 1024


def keep_freed_memory() -> list[str]:
    """Arrow's buffers from jemalloc with no decay (its pages stay in the process), and glibc's
    heap (numpy's and pandas' arrays) not trimmed, used up to its largest mmap threshold and
    one for every thread: with an arena per thread, what the warm-up thread freed was no use
    to the sessions' thread, whose first big arrays were faulted in afresh.

    For the whole process, so called when the server starts, never on import. Returns what
    was set, for the log; where an allocator is missing, it is left as it is.
    """
    done = []
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(-1)
        pa.set_memory_pool(pool)
        done.append("arrow: jemalloc, no decay")
    except NotImplementedError:  # a pyarrow built without jemalloc keeps its default pool
        log.info("pyarrow has no jemalloc: its memory pool is left as it is")
    if sys.platform.startswith("linux"):
        name = ctypes.util.find_library("c")
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)  # absent on a libc other than glibc (musl)
        if mallopt is not None:
            trimmed = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
            mapped = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
            shared = mallopt(M_ARENA_MAX, 1)
            if trimmed and mapped and shared:
                done.append("glibc: one heap, kept, mmap above 32 MiB")
    return done
