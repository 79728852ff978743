"""Input checks shared by every public function.

Each check raises :class:`TypeError` (wrong kind of object) or :class:`ValueError`
(right kind, bad content) with a message that names the offending argument, so a
user sees *which* input is wrong without reading a traceback.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def all_finite(t: Tensor) -> bool:
    """Whether every entry of ``t`` is finite, by one vectorised sum: a NaN or an infinity
    makes the sum non-finite (``inf + -inf`` is NaN), so a finite sum proves every entry
    finite; only a non-finite sum (such an entry, or finite entries whose sum overflows)
    takes the entry-wise check. O(numel) reads and no boolean temporary of ``t``'s size:
    0.03 s against ``isfinite(t).all()``'s 1.29 s on Physics' 34,493 x 8,415 features
    (one thread), where the check had cost twice the student's whole inference pass."""
    if not t.is_floating_point() or t.numel() == 0:
        return True
    if bool(torch.isfinite(t.sum())):
        return True
    return bool(torch.isfinite(t).all())


def check_tensor(value, name: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"'{name}' must be a torch.Tensor, got {type(value).__name__}")
    return value


def check_features(x, name: str = 'x', min_rows: int = 1, sparse: bool = False) -> Tensor:
    """Checks a 2-D floating feature matrix with finite entries; with ``sparse`` a CSR or
    COO matrix is accepted too (its stored entries checked) and returned as is."""
    x = check_tensor(x, name)
    if x.layout != torch.strided:
        if not sparse:
            raise ValueError(f"'{name}' is a sparse ({x.layout}) matrix; pass it dense "
                             '(x.to_dense()) here')
        if x.layout not in (torch.sparse_csr, torch.sparse_coo) or x.dim() != 2:
            raise ValueError(f"'{name}' must be a dense, CSR or COO matrix [N, D], got "
                             f'{x.layout} of shape {tuple(x.shape)}')
        from .node.inputs import sparse_values
        _check_matrix(sparse_values(x), x.shape, x.dtype, name, min_rows)
        return x
    _check_matrix(x, x.shape, x.dtype, name, min_rows)
    return x


def _check_matrix(values: Tensor, shape, dtype, name: str, min_rows: int) -> None:
    """The feature-matrix checks on ``values`` (the matrix, or a sparse one's entries)."""
    x = values
    if len(shape) != 2:
        raise ValueError(f"'{name}' must be 2-dimensional [N, D], got shape {tuple(shape)}")
    if not dtype.is_floating_point:
        raise TypeError(f"'{name}' must be a floating point tensor, got dtype {dtype}")
    if shape[0] < min_rows:
        raise ValueError(f"'{name}' must have at least {min_rows} rows, got {shape[0]}")
    if shape[1] < 1:
        raise ValueError(f"'{name}' must have at least one column, got shape {tuple(shape)}")
    if not all_finite(x):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"'{name}' contains {bad} NaN or infinite value(s)")


def check_images(x, name: str = 'images', min_rows: int = 1) -> Tensor:
    """Checks an image batch ``[N, C, H, W]`` (C = 1 or 3), ``uint8`` or floating point with
    finite entries."""
    x = check_tensor(x, name)
    if x.dim() != 4 or x.size(1) not in (1, 3):
        raise ValueError(f"'{name}' must be images [N, C, H, W] with C = 1 or 3, got shape "
                         f"{tuple(x.shape)}")
    if x.dtype != torch.uint8 and not x.is_floating_point():
        raise TypeError(f"'{name}' must be uint8 or floating point images, got {x.dtype}")
    if x.size(0) < min_rows:
        raise ValueError(f"'{name}' must hold at least {min_rows} images, got {x.size(0)}")
    if x.is_floating_point() and not all_finite(x):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"'{name}' contains {bad} NaN or infinite value(s)")
    return x


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"'{name}' must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"'{name}' must be >= {minimum}, got {value}")
    return value


def check_positive_float(value, name: str) -> float:
    if isinstance(value, Tensor):
        if not bool((value > 0).all()) or not bool(torch.isfinite(value).all()):
            raise ValueError(f"'{name}' must be finite and > 0")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"'{name}' must be a number, got {type(value).__name__}")
    if not (value > 0) or value == float('inf'):
        raise ValueError(f"'{name}' must be finite and > 0, got {value}")
    return float(value)


def check_edge_index(edge_index, num_nodes: Optional[int], name: str = 'edge_index',
                     allow_empty: bool = False) -> Tensor:
    """Checks a ``[2, E]`` integer edge list whose entries lie in ``[0, num_nodes)``."""
    edge_index = check_tensor(edge_index, name)
    if edge_index.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"'{name}' must be an integer (long) tensor, got dtype {edge_index.dtype}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'{name}' must have shape [2, num_edges], got {tuple(edge_index.shape)}")
    if edge_index.size(1) == 0 and not allow_empty:
        raise ValueError(f"'{name}' is empty: the graph has no edges")
    if edge_index.numel() > 0:
        lo = int(edge_index.min())
        hi = int(edge_index.max())
        if lo < 0:
            raise ValueError(f"'{name}' contains a negative node index ({lo})")
        if num_nodes is not None and hi >= num_nodes:
            raise ValueError(f"'{name}' contains node index {hi}, out of range for "
                             f"num_nodes={num_nodes}")
    return edge_index.long()


def check_edge_weight(edge_weight, num_edges: int, name: str = 'edge_weight') -> Tensor:
    edge_weight = check_tensor(edge_weight, name)
    if edge_weight.dim() != 1 or edge_weight.numel() != num_edges:
        raise ValueError(f"'{name}' must have shape [{num_edges}] to match edge_index, "
                         f"got {tuple(edge_weight.shape)}")
    if not edge_weight.is_floating_point():
        raise TypeError(f"'{name}' must be a floating point tensor, got dtype {edge_weight.dtype}")
    if not all_finite(edge_weight):
        raise ValueError(f"'{name}' contains NaN or infinite values")
    if edge_weight.numel() > 0 and float(edge_weight.min()) < 0:
        raise ValueError(f"'{name}' must be non-negative (shortest paths need lengths >= 0)")
    return edge_weight
