from .genurl import GenURL

__all__ = ['GenURL']
