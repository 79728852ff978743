"""Low-dimensional transformation (LDT): kernels, losses and models."""
from . import functional
from .losses import GenURLLoss
from .models import GenURL
from .sampling import PairSample, dense_block, sample_pairs

__all__ = ['functional', 'GenURLLoss', 'GenURL', 'PairSample', 'sample_pairs', 'dense_block']
