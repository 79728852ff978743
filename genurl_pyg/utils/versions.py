"""Versions of the libraries a result depends on, recorded next to every number."""
from __future__ import annotations

import platform
from typing import Dict


def library_versions() -> Dict[str, str]:
    import torch
    import torch_geometric
    import genurl_pyg
    out = {'genurl_pyg': genurl_pyg.__version__, 'python': platform.python_version(),
           'torch': torch.__version__, 'torch_geometric': torch_geometric.__version__}
    for name in ('numpy', 'scipy', 'sklearn', 'faiss', 'ogb'):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            pass
    return out
