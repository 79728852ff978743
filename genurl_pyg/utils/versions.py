"""Versions of the libraries a result depends on, recorded next to every number.

Read from the installed distributions' metadata (:mod:`importlib.metadata`), not by
importing the libraries: importing them all (PyG, scikit-learn, UMAP's numba kernels)
cost the bench runner 16 s per suite run, while the metadata takes milliseconds and
gives the same version strings (the test compares them with ``__version__``); torch's
is read from the module, which the package imports anyway.
"""
from __future__ import annotations

import platform
from importlib import metadata
from typing import Dict, Optional

#: Module name -> the distributions that may provide it, first found wins. Not torch:
#: its metadata drops the build tag, so :func:`library_versions` asks the module.
DISTRIBUTIONS = {
    'torch_geometric': ('torch-geometric', 'torch_geometric'),
    'numpy': ('numpy',), 'scipy': ('scipy',), 'sklearn': ('scikit-learn',),
    'faiss': ('faiss-cpu', 'faiss-gpu', 'faiss'), 'ogb': ('ogb',),
    'lightly': ('lightly',), 'torchvision': ('torchvision',),
    'torchdistill': ('torchdistill',), 'umap': ('umap-learn',), 'openTSNE': ('openTSNE',),
    'pacmap': ('pacmap',), 'pynndescent': ('pynndescent',), 'matplotlib': ('matplotlib',),
}


def installed_version(module: str) -> Optional[str]:
    """The installed version of ``module`` (its distributions' metadata; ``None`` when
    none is installed). Does not import the module."""
    for dist in DISTRIBUTIONS.get(module, (module,)):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def library_versions() -> Dict[str, str]:
    """Python's and the core libraries' versions; an optional one absent is not listed."""
    import torch  # its own string: the metadata drops the build tag (``+cu130``, ``+cpu``)
    import genurl_pyg
    out = {'genurl_pyg': genurl_pyg.__version__, 'python': platform.python_version(),
           'torch': torch.__version__}
    for name in ('torch_geometric', 'numpy', 'scipy', 'sklearn', 'faiss', 'ogb'):
        found = installed_version(name)
        if found is not None:
            out[name] = found
    return out
