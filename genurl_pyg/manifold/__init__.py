"""Dimension reduction with GenURL (scikit-learn estimator API)."""
from .genurl_embedding import GenURLEmbedding

__all__ = ['GenURLEmbedding']
