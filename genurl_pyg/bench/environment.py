"""What a suite's numbers depend on: versions, commit, hardware and thread settings."""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional

OPTIONAL_LIBRARIES = ('lightly', 'torchvision', 'torchdistill', 'umap', 'openTSNE', 'pacmap',
                      'pynndescent', 'matplotlib')
THREAD_VARIABLES = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS',
                    'NUMBA_NUM_THREADS', 'OMP_WAIT_POLICY')


def git_commit(path: Optional[Path] = None) -> Dict[str, Any]:
    """``{'commit': sha or None, 'dirty': bool or None}`` of the checkout holding the package
    (None where it is not a git checkout, e.g. an installed wheel)."""
    where = str(path or Path(__file__).resolve().parents[2])
    try:
        sha = subprocess.run(['git', '-C', where, 'rev-parse', 'HEAD'], capture_output=True,
                             text=True, timeout=10)
        if sha.returncode != 0:
            return {'commit': None, 'dirty': None}
        status = subprocess.run(['git', '-C', where, 'status', '--porcelain',
                                 '--untracked-files=no'], capture_output=True, text=True,
                                timeout=30)
        return {'commit': sha.stdout.strip(), 'dirty': bool(status.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return {'commit': None, 'dirty': None}


def _cpu_model() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> Optional[float]:
    try:
        return round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2 ** 30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _gpus() -> List[str]:
    import torch
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def versions() -> Dict[str, str]:
    from ..utils.versions import installed_version, library_versions
    out = library_versions()
    for name in OPTIONAL_LIBRARIES:  # from metadata, not imported (see utils.versions)
        found = installed_version(name)
        if found is not None:  # absent: simply not listed
            out[name] = found
    return out


def describe(jobs: int, threads: int, command: str) -> Dict[str, Any]:
    """The environment block of ``results.json``."""
    return {'versions': versions(), **git_commit(),
            'hardware': {'cpu': _cpu_model(), 'cores': os.cpu_count(),
                         'memory_gb': _memory_gb(), 'gpus': _gpus(),
                         'platform': platform.platform()},
            'threads': {'jobs': jobs, 'torch_threads_per_cell': threads,
                        **{k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ}},
            'command': command}
