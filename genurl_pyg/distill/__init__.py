"""Unsupervised knowledge distillation with GenURL (a teacher's embeddings in, a student out).

* :mod:`~genurl_pyg.distill.config`: :class:`DistillConfig`, :func:`distill_defaults` (per
  graph, ``genurl_pyg/configs/distill/<name>.yaml``).
* :mod:`~genurl_pyg.distill.objective`: P from the teacher's embeddings, GKL to the
  student's Q; :mod:`~genurl_pyg.distill.peers`: regression, RKD, PKT, SEED, and the
  supervised reference GLNN (:func:`glnn_targets` makes its targets from a teacher).
* :mod:`~genurl_pyg.distill.distiller`: :class:`GenURLDistiller`, the training loop.
* :mod:`~genurl_pyg.distill.graph`: :func:`distill_node_embeddings` (a GNN teacher into an
  MLP on node features) and the inductive split; :mod:`~genurl_pyg.distill.image`:
  :func:`distill_image_embeddings` (a pretrained backbone into a small CNN, on the vision
  task's views); :mod:`~genurl_pyg.distill.run`: the ``genurl-pyg distill`` jobs.

Loaded lazily: ``import genurl_pyg.distill`` imports no torch until a name is used.
"""
from __future__ import annotations

import importlib
from typing import Any

_NAMES = {'DistillConfig': 'config', 'distill_defaults': 'config',
          'GenURLDistiller': 'distiller',
          'teacher_embeddings': 'distiller', 'load_teacher': 'distiller', 'build_student': 'students',
          'distill_node_embeddings': 'graph', 'inductive_split': 'graph',
          'distill_image_embeddings': 'image', 'load_image_teacher': 'image',
          'image_views': 'image',
          'observed_subgraph': 'graph', 'held_out_validation': 'graph',
          'glnn_targets': 'graph',
          'GenURLObjective': 'objective',
          'distill_job': 'run', 'distill_images_job': 'run'}
__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(f'.{_NAMES[name]}', __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
