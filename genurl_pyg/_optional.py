"""Lazy imports of optional dependencies with install hints in the error."""
from __future__ import annotations

import importlib
from types import ModuleType

_EXTRAS = {
    'faiss': 'pip install "genurl-pyg[faiss]"  (faiss-cpu)',
    'pynndescent': 'pip install "genurl-pyg[pynndescent]"',
    'ogb': 'pip install "genurl-pyg[ogb]"',
    'matplotlib': 'pip install "genurl-pyg[plot]"',
    'torch_sparse': 'pip install torch-sparse (compiles from source)',
    'torch_scatter': 'pip install torch-scatter (compiles from source)',
    'torchvision': 'pip install "genurl-pyg[vision]"  (with torch 2.14.1: torchvision 0.29.1)',
    'lightly': 'pip install "genurl-pyg[ssl-peers]"  (lightly)',
    'torchdistill': 'pip install "genurl-pyg[kd-peers]"  (torchdistill)',
    'umap': 'pip install "genurl-pyg[bench]"  (umap-learn)',
    'openTSNE': 'pip install "genurl-pyg[bench]"  (openTSNE)',
    'pacmap': 'pip install "genurl-pyg[bench]"  (pacmap)',
    'optuna': 'pip install "genurl-pyg[bench]"  (optuna)',
}


def is_available(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def require(module: str, feature: str) -> ModuleType:
    """Imports ``module`` or raises ImportError naming the feature and the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = _EXTRAS.get(module, f'pip install {module}')
        raise ImportError(f"{feature} needs the optional package '{module}', which is not "
                          f"installed. Install it with: {hint}") from exc
