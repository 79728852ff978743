r"""Hubness reduction for P's kNN graph by local scaling (ours, not the paper's).

In high dimensions a few points ("hubs", near the data's centre) are among the k nearest
neighbours of very many others, and the kNN graph's k-occurrence (in-degree) is skewed
(Radovanović et al., JMLR 2010). Every hub edge becomes a pair of P that pulls its two
points together, so hubs glue unrelated neighbourhoods in the layout. Local scaling
(Zelnik-Manor & Perona, NIPS 2004; as a hubness reduction, Schnitzer et al., JMLR 2012)
ranks candidates by

.. math::
    d'_{ij} = \frac{d_{ij}}{\sqrt{s_i s_j}},

:math:`s_i` the distance from :math:`i` to its :math:`k`-th nearest neighbour: a hub
(small :math:`s_j`, it lives in a dense centre) moves down every other point's list.

Why here: openTSNE's Annoy search misses about 15 % of the exact 90 nearest neighbours
(4.5 % of the first 15), and on the Coauthor-Physics DR tuning set those it misses are more
often of another class (15-NN: 78 % same-class against 88 % for those kept) and point to
hubs (mean in-degree 50 against 38 at ranks 10-15); its 15-NN graph's k-occurrence skew is
2.8 against the exact graph's 4.3. That is where openTSNE's 5-NN lead over our exact P came
from (``experiments/results/dr_layout_tuning.md``, session 18). Local scaling removes hub
edges by design rather than by a search's accident.

:func:`local_scaling_knn` re-ranks the exact (or ``method``'s) :math:`c\,k` nearest
neighbours, so a point that is not among them cannot enter (:math:`c` = ``candidates``).
Cost: one kNN search with :math:`c\,k` neighbours plus O(N·c·k log(c·k)) for the ranking;
memory O(N·c·k).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from .._validation import check_features, check_positive_int
from .knn import knn_graph

NEIGHBOR_SCALINGS = ('local',)


def check_neighbor_scaling(value: Optional[str], allow_auto: bool = False) -> Optional[str]:
    """``None`` (plain kNN) or one of :data:`NEIGHBOR_SCALINGS` (or ``'auto'`` where the
    caller resolves it, ``allow_auto``); a clear error otherwise."""
    if value is None or value in NEIGHBOR_SCALINGS or (allow_auto and value == 'auto'):
        return value
    valid = "'auto', None" if allow_auto else 'None'
    raise ValueError(f"'neighbor_scaling' must be {valid} or one of {NEIGHBOR_SCALINGS}, "
                     f'got {value!r}')


def local_scaling_knn(x: Tensor, k: int, candidates: int = 3, metric: str = 'euclidean',
                      method: str = 'auto', info: Optional[dict] = None
                      ) -> Tuple[Tensor, Tensor]:
    r"""The :math:`k` neighbours of every row with the smallest locally scaled distance
    :math:`d_{ij} / \sqrt{s_i s_j}` among its ``candidates`` · k nearest.

    Returns ``(index, dist)`` shaped like :func:`knn_graph`'s (``[N, k]``, each row sorted
    by increasing **unscaled** distance, which is what P's calibration reads), so the
    result can be passed as ``knn=`` to :func:`~.similarity.feature_similarity`.

    Raises:
        ValueError: as :func:`knn_graph`, or ``candidates`` not a positive integer.
    """
    x = check_features(x, 'x', min_rows=2)
    k = check_positive_int(k, 'k')
    candidates = check_positive_int(candidates, 'candidates')
    n = x.size(0)
    if k >= n:
        raise ValueError(f"'k' must be smaller than the number of points ({n}), got {k}")
    wide = min(candidates * k, n - 1)
    index, dist = knn_graph(x, wide, metric=metric, method=method, info=info)
    scale = dist[:, k - 1].clamp_min(torch.finfo(dist.dtype).tiny)
    scaled = dist / torch.sqrt(scale.unsqueeze(1) * scale[index])
    # stable sort: ties in the scaled distance keep the nearer candidate first
    keep = torch.sort(scaled, dim=1, stable=True).indices[:, :k]
    index, dist = index.gather(1, keep), dist.gather(1, keep)
    order = torch.sort(dist, dim=1, stable=True).indices
    return index.gather(1, order), dist.gather(1, order)


def k_occurrence_skewness(index: Tensor, num_nodes: int) -> float:
    """Skewness of the k-occurrence (how often each point is another's neighbour) of a kNN
    list ``index`` ``[N, k]``: the usual hubness score (0 for a regular graph, large
    positive when a few hubs collect many edges). O(N·k)."""
    counts = torch.bincount(index.flatten().cpu(), minlength=num_nodes).double()
    centred = counts - counts.mean()
    std = centred.pow(2).mean().sqrt()
    return float(centred.pow(3).mean() / std.pow(3)) if std > 0 else 0.0
