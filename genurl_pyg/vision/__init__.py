"""Self-supervised visual learning with GenURL (images in, a pretrained backbone out).

* :mod:`~genurl_pyg.vision.data`: image sets decoded once into cached tensors.
* :mod:`~genurl_pyg.vision.views`: per-image SimCLR views applied on the batch's device.
* :mod:`~genurl_pyg.vision.backbones`: ResNets with the CIFAR stem, a small CNN.
* :mod:`~genurl_pyg.vision.objective`: P over a batch of views (views + EMA-teacher kNN).
* :mod:`~genurl_pyg.vision.trainer`: the training loop; :mod:`~genurl_pyg.vision.run`:
  :func:`fit_visual_embeddings` and the ``genurl-pyg ssl`` job.

Loaded lazily, like the package root: ``import genurl_pyg.vision`` imports no torchvision.
"""
from __future__ import annotations

import importlib
from typing import Any

_NAMES = {'SSLConfig': 'config', 'VisualTrainer': 'trainer', 'BatchViews': 'views',
          'ViewConfig': 'views', 'load_images': 'data', 'ImageData': 'data',
          'fit_visual_embeddings': 'run', 'build_backbone': 'backbones',
          'BatchSimilarity': 'objective'}
__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(f'.{_NAMES[name]}', __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
