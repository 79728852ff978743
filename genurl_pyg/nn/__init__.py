"""Low-dimensional transformation (LDT): kernels, losses and models.

The models (``GenURL`` and the encoders in :mod:`genurl_pyg.nn.models`) load on first use
(PEP 562): they import PyG's layers, which cost about 250 MB of resident memory and several
seconds, and the kernel-only paths (the dimension-reduction estimator, the layout) never
need them.
"""
from __future__ import annotations

import importlib
from typing import Any

from . import functional
from .decorrelation import correlation_loss, decorrelation_loss
from .losses import GenURLLoss
from .sampling import (PairSample, anchor_batches, dense_block, sample_anchor_pairs,
                       sample_pairs)

__all__ = ['functional', 'decorrelation_loss', 'correlation_loss', 'GenURLLoss', 'GenURL', 'PairSample', 'sample_pairs', 'dense_block',
           'anchor_batches', 'sample_anchor_pairs']


def __getattr__(name: str) -> Any:
    if name == 'GenURL':
        return importlib.import_module('.models', __name__).GenURL
    if name == 'models':
        return importlib.import_module('.models', __name__)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    return sorted(set(globals()) | {'GenURL', 'models'})
