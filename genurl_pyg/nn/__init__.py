"""Low-dimensional transformation (LDT): kernels, losses and models."""
from . import functional
from .losses import GenURLLoss
from .models import GenURL
from .sampling import (PairSample, anchor_batches, dense_block, sample_anchor_pairs,
                       sample_pairs)

__all__ = ['functional', 'GenURLLoss', 'GenURL', 'PairSample', 'sample_pairs', 'dense_block',
           'anchor_batches', 'sample_anchor_pairs']
