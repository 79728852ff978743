"""Resource use of this process, recorded next to every timing."""
from __future__ import annotations

import resource
from pathlib import Path


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
