"""genurl-pyg: GenURL similarity-based unsupervised representation learning for PyG."""
__version__ = '0.1.0'

from . import nn, structure, transforms  # noqa: E402
from .node import NodeConfig, fit_node_embeddings  # noqa: E402

__all__ = ['nn', 'structure', 'transforms', 'NodeConfig', 'fit_node_embeddings', '__version__']
