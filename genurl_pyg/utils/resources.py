"""Resource use of this process, recorded next to every timing, and the timing itself."""
from __future__ import annotations

import resource
import statistics
import time
from pathlib import Path
from typing import Callable


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB.

    Linux's ``VmHWM`` (``/proc/self/status``) when readable: it belongs to the process's own
    address space, so it starts afresh at ``exec``. ``getrusage``'s ``ru_maxrss`` is the
    fallback; on Linux it survives ``fork`` + ``exec``, so a child started by a parent that
    had imported torch reports at least the parent's peak.
    """
    try:
        for line in Path('/proc/self/status').read_text().splitlines():
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Start a new peak: :func:`peak_rss_mb` then reads the highest resident set size since
    this call (which includes what the process already holds, e.g. a loaded data set), so
    one process can report the peak of each phase it runs. Linux 4.0 and later (writing
    ``5`` to ``/proc/self/clear_refs`` resets ``VmHWM`` to the current size). Returns
    ``False`` where the peak cannot be reset (another system, or no write access): it then
    stays the process's peak since its start."""
    try:
        Path('/proc/self/clear_refs').write_text('5')
    except OSError:
        return False
    return True


def median_seconds(fn: Callable[[], object], repeats: int, warmups: int = 2) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` calls, after ``warmups`` untimed
    calls (allocator and thread pool)."""
    for _ in range(warmups):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
