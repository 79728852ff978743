"""Resource use of this process, recorded next to every timing."""
from __future__ import annotations

import resource


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
