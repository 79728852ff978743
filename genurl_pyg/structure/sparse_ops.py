"""Small sparse-tensor primitives on flat ``(row, col)`` keys, pure torch (CPU and CUDA).

Pairs are encoded as ``key = row * num_cols + col`` (int64), so sorting keys sorts by row
then column: the CSR order. All functions cost O(E log E) for E entries.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor


def coalesce_min(keys: Tensor, values: Tensor) -> Tuple[Tensor, Tensor]:
    """Merges duplicate keys keeping the smallest value; returns sorted unique keys."""
    if keys.numel() == 0:
        return keys, values
    uniq, inverse = torch.unique(keys, sorted=True, return_inverse=True)
    out = values.new_empty(uniq.numel())
    out.scatter_reduce_(0, inverse, values, reduce='amin', include_self=False)
    return uniq, out


def coalesce_sum(keys: Tensor, values: Tensor) -> Tuple[Tensor, Tensor]:
    """Merges duplicate keys by summing their values; returns sorted unique keys."""
    if keys.numel() == 0:
        return keys, values
    uniq, inverse = torch.unique(keys, sorted=True, return_inverse=True)
    out = values.new_zeros(uniq.numel()).index_add_(0, inverse, values)
    return uniq, out


def lookup(sorted_keys: Tensor, sorted_values: Tensor, query: Tensor,
           default: float = 0.0) -> Tuple[Tensor, Tensor]:
    """Values at ``query`` keys in a sorted key set; ``(found_mask, values_or_default)``."""
    if sorted_keys.numel() == 0:
        return (torch.zeros_like(query, dtype=torch.bool),
                torch.full(query.shape, default, dtype=sorted_values.dtype, device=query.device))
    pos = torch.searchsorted(sorted_keys, query).clamp_max(sorted_keys.numel() - 1)
    found = sorted_keys[pos] == query
    vals = torch.where(found, sorted_values[pos],
                       torch.full_like(sorted_values[pos], default))
    return found, vals


def topk_per_row(rows: Tensor, values: Tensor, k: int) -> Tensor:
    """Boolean mask keeping, in every row, the ``k`` entries with the smallest value."""
    if rows.numel() == 0:
        return torch.zeros_like(rows, dtype=torch.bool)
    order = torch.argsort(values, stable=True)
    order = order[torch.argsort(rows[order], stable=True)]
    sorted_rows = rows[order]
    counts = torch.bincount(sorted_rows)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(rows.numel(), device=rows.device) - starts[sorted_rows]
    keep = torch.zeros_like(rows, dtype=torch.bool)
    keep[order[rank < k]] = True
    return keep


def csr_rowptr(rows_sorted: Tensor, num_rows: int) -> Tensor:
    """Row pointer (length ``num_rows + 1``) of entries already sorted by row."""
    counts = torch.bincount(rows_sorted, minlength=num_rows)
    return torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])


def expand_csr(rowptr: Tensor, nodes: Tensor) -> Tuple[Tensor, Tensor]:
    """For each entry of ``nodes``, the positions of that node's CSR row.

    Returns ``(owner, position)``: ``owner[t]`` is the index into ``nodes`` that produced
    output ``t``, ``position[t]`` the CSR entry. Total cost O(sum of the rows' degrees).
    """
    deg = rowptr[nodes + 1] - rowptr[nodes]
    owner = torch.repeat_interleave(torch.arange(nodes.numel(), device=nodes.device), deg)
    first = torch.cumsum(deg, 0) - deg
    offset = torch.arange(owner.numel(), device=nodes.device) - first[owner]
    return owner, rowptr[nodes][owner] + offset
