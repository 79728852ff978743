"""genurl-pyg: GenURL similarity-based unsupervised representation learning for PyG.

Submodules and the top-level names load on first use (PEP 562), so that ``genurl-pyg --help``
and argument errors do not pay for importing torch and PyG.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = '0.1.0'

_SUBMODULES = ('nn', 'structure', 'transforms', 'node', 'manifold', 'datasets', 'evaluation',
               'vision', 'distill')
_NAMES = {'NodeConfig': 'node', 'fit_node_embeddings': 'node',
          'fit_visual_embeddings': 'vision', 'distill_node_embeddings': 'distill',
          'distill_image_embeddings': 'distill'}

__all__ = ['nn', 'structure', 'transforms', 'NodeConfig', 'fit_node_embeddings',
           'fit_visual_embeddings', 'distill_node_embeddings', 'distill_image_embeddings',
           '__version__']


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f'.{name}', __name__)
    if name in _NAMES:
        return getattr(importlib.import_module(f'.{_NAMES[name]}', __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES) | set(_NAMES))
