"""2-D pictures of embeddings, coloured by label (matplotlib, optional extra ``plot``)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ._optional import require
from .utils.io import atomic_write


def to_2d(h: torch.Tensor, seed: int = 0) -> np.ndarray:
    """2-D layout for a picture: as is if already 2-D; t-SNE (after PCA to 50) up to 20k
    points; PCA beyond, where t-SNE would take minutes."""
    x = h.detach().cpu().double().numpy()
    if x.shape[1] <= 2:
        return x if x.shape[1] == 2 else np.c_[x, np.zeros(len(x))]
    from sklearn.decomposition import PCA
    if x.shape[1] > 50:
        x = PCA(50, random_state=seed).fit_transform(x)
    if len(x) <= 20_000:
        from sklearn.manifold import TSNE
        return TSNE(2, init='pca', random_state=seed).fit_transform(x)
    return PCA(2, random_state=seed).fit_transform(x)


def scatter_embedding(h, labels: Optional[torch.Tensor], path: Path, title: str = '') -> Path:
    """Saves a scatter plot PNG of ``h`` (projected to 2-D if needed) coloured by ``labels``."""
    matplotlib = require('matplotlib', 'plotting')
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    xy = to_2d(torch.as_tensor(h))
    fig, ax = plt.subplots(figsize=(6, 6), dpi=120)
    c = None if labels is None else np.asarray(torch.as_tensor(labels).cpu())
    ax.scatter(xy[:, 0], xy[:, 1], c=c, s=3, cmap='tab10' if c is not None else None,
               linewidths=0)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    path = Path(path)
    try:
        atomic_write(path, lambda f: fig.savefig(f, format='png'))
    finally:
        plt.close(fig)
    return path
