from .genurl_loss import GenURLLoss

__all__ = ['GenURLLoss']
