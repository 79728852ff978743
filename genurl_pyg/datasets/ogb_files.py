"""OGB's on-disk files that its loaders cannot read unaided under torch >= 2.6.

* ogb 1.3.6 calls ``torch.load`` without ``weights_only``; PyG's storage classes and the
  numpy arrays inside the link splits must be allow-listed to keep weights-only loading on.
* A copy of ogbl-ddi may lack ``split/target/train.pt`` (the staged mirror does): the
  training edges are exactly the graph's edges, so the file is rebuilt from them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import numpy as np
import torch
from torch import Tensor

from ..utils.io import atomic_torch_save

SPLITS = ('train', 'valid', 'test')


def allow_ogb_pickles() -> None:
    """Registers PyG's storage classes as safe for ``torch.load`` (weights-only stays on)."""
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage
    torch.serialization.add_safe_globals([DataEdgeAttr, DataTensorAttr, GlobalStorage])


def _numpy_globals() -> list:
    reconstruct = np._core.multiarray._reconstruct  # numpy 1.x pickles name numpy.core
    return [reconstruct, (reconstruct, 'numpy.core.multiarray._reconstruct'), np.ndarray,
            np.dtype, type(np.dtype(np.int64)), type(np.dtype(np.float32))]


def rebuild_link_train_split(split_dir: Path, edge_index: Tensor) -> bool:
    """Writes ``split_dir/train.pt`` as ``{'edge': [E, 2]}`` (each undirected edge once,
    ``i < j``) when it is missing. Returns True when it wrote the file."""
    path = split_dir / 'train.pt'
    if path.exists():
        return False
    keep = edge_index[0] < edge_index[1]
    atomic_torch_save({'edge': edge_index[:, keep].t().contiguous()}, path)
    return True


def load_link_split(split_dir: Path) -> Dict[str, Dict[str, Tensor]]:
    """``{'train'|'valid'|'test': {'edge': [E, 2], 'edge_neg': [E', 2] (valid/test)}}`` as
    long tensors, read weights-only (numpy arrays allow-listed)."""
    out: Dict[str, Dict[str, Tensor]] = {}
    for name in SPLITS:
        path = split_dir / f'{name}.pt'
        if not path.is_file():
            raise FileNotFoundError(f"OGB link split file {path} is missing")
        with torch.serialization.safe_globals(_numpy_globals()):
            part = torch.load(path)
        out[name] = {k: torch.as_tensor(v).long() for k, v in part.items()}
    return out
