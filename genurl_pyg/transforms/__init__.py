from .genurl_similarity import GenURLSimilarity

__all__ = ['GenURLSimilarity']
