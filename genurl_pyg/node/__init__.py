"""Node embeddings: configs, encoders, views and the trainer."""
from .config import ConfigError, NodeConfig, dataset_defaults
from .trainer import NodeEmbeddingTrainer, fit_node_embeddings

__all__ = ['NodeConfig', 'ConfigError', 'dataset_defaults', 'NodeEmbeddingTrainer',
           'fit_node_embeddings']
