"""Node embeddings: configs, encoders, views and the trainer.

The trainer (torch, PyG) loads on first use, so that reading and checking a config, as the
CLI does before any work, stays fast.
"""
from __future__ import annotations

import importlib
from typing import Any

from .config import ConfigError, NodeConfig, dataset_defaults

__all__ = ['NodeConfig', 'ConfigError', 'dataset_defaults', 'NodeEmbeddingTrainer',
           'fit_node_embeddings']


def __getattr__(name: str) -> Any:
    if name in ('NodeEmbeddingTrainer', 'fit_node_embeddings'):
        return getattr(importlib.import_module('.trainer', __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
