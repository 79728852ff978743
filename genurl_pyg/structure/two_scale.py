r"""A feature similarity over two neighbourhood scales, from one kNN search (ours).

.. math::
    P = (1 - \beta)\, P_{k} + \beta\, \hat P_{K}, \qquad k < K

:math:`P_k` is the paper's one-hop feature similarity on the :math:`k` nearest neighbours
(:func:`~.similarity.feature_similarity`, ``hops=1``); :math:`P_K` is the same calibrated
similarity on the :math:`K` nearest. Both come from one kNN search with :math:`K`
neighbours: the first :math:`k` columns of a sorted kNN list are the :math:`k`-NN list.

Why: the DSM step combines structures at different ranges (the paper's predefined graph and
its geodesics); here the two ranges are of the features alone. :math:`P_k` keeps the local
neighbourhoods (trustworthiness), the small share :math:`\beta` of the wider one adds the
class-level pull that t-SNE's perplexity-30 neighbourhoods (:math:`K = 90`) give, which
raised 5-NN accuracy at an unchanged T(10) on both DR tuning sets
(``experiments/results/dr_layout_tuning.md``, sessions 16-17).

Cost: the wide-only pairs (in :math:`P_K`'s support, not in :math:`P_k`'s) would double or
triple the pairs every layout iteration visits. They are thinned once: a uniform share
``wide_share`` of them is kept (both orders of a pair together, so :math:`\hat P_K` stays
symmetric) with weight divided by ``wide_share``, so :math:`E[\hat P_K] = P_K` entry by entry;
the pairs of :math:`P_k`'s support are all kept. Memory O(N·(k + s·K)), s the share; time
that of a :math:`K`-NN search plus O(N·K log(N·K)) for the two fuzzy unions.
"""
from __future__ import annotations

import numbers
from typing import Optional, Tuple

import torch
from torch import Tensor

from .._validation import check_features, check_positive_int
from .calibration import DEFAULT_INPUT_NU
from .knn import knn_graph
from .similarity import _to_keys, combine, feature_similarity


def two_scale_similarity(x: Tensor, k: int = 15, wide_k: int = 45, wide_weight: float = 0.2,
                         wide_share: float = 1.0, metric: str = 'euclidean',
                         nu: float = DEFAULT_INPUT_NU, knn_method: str = 'auto',
                         seed: int = 0,
                         knn_info: Optional[dict] = None) -> Tuple[Tensor, Tensor]:
    r""":math:`(1-\beta) P_k + \beta \hat P_K` (see the module docstring): ``(index, weight)``,
    sparse, symmetric, no self pairs.

    Args:
        x: ``[N, D]`` features.
        k: neighbours of the local part.
        wide_k: neighbours of the wide part (:math:`K > k`, at most N - 1).
        wide_weight: :math:`\beta` in [0, 1].
        wide_share: share in (0, 1] of the wide-only pairs kept (re-weighted by its inverse).
        seed: the draw of the kept wide-only pairs (a private generator; the global random
            state is untouched).
        knn_info: filled by :func:`knn_graph` (backend used, measured recall).
    """
    x = check_features(x, 'x', min_rows=2)
    n = x.size(0)
    check_positive_int(k, 'k')
    check_positive_int(wide_k, 'wide_k')
    if not k < wide_k <= n - 1:
        raise ValueError(f"'wide_k' must be larger than 'k' ({k}) and at most n - 1 = {n - 1}, "
                         f"got {wide_k}")
    check_mixture(wide_weight, wide_share)
    nbr, dist = knn_graph(x, wide_k, metric=metric, method=knn_method, info=knn_info)
    local = feature_similarity(x, k=k, hops=1, nu=nu,
                               knn=(nbr[:, :k].contiguous(), dist[:, :k].contiguous()))
    if wide_weight == 0:
        return local
    wide = feature_similarity(x, k=wide_k, hops=1, nu=nu, knn=(nbr, dist))
    if wide_share < 1:
        wide = thin_wide_pairs(wide, local, n, wide_share, seed)
    return combine(local, wide, wide_weight, n)


def check_mixture(wide_weight: float, wide_share: float) -> None:
    """Raises ``ValueError`` naming ``wide_weight`` (must be in [0, 1]) or ``wide_share``
    (must be in (0, 1])."""
    for name, value, lo_open in (('wide_weight', wide_weight, False),
                                 ('wide_share', wide_share, True)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
                not (0 < value <= 1 if lo_open else 0 <= value <= 1):
            raise ValueError(f"'{name}' must be in {'(' if lo_open else '['}0, 1], got "
                             f"{value!r}")


def thin_wide_pairs(wide: Tuple[Tensor, Tensor], local: Tuple[Tensor, Tensor], num_nodes: int,
                    share: float, seed: int = 0) -> Tuple[Tensor, Tensor]:
    """Keeps every pair of ``wide`` that is in ``local``'s support and a uniform ``share`` of
    the others, both orders of a pair together, their weights divided by ``share``. ``wide``
    must be symmetric with its pairs sorted by (i, j), as the fuzzy union returns them.
    O(E log E), E the pairs of ``wide``."""
    (index, weight), n = wide, num_nodes
    keys = _to_keys(index, n)
    inner = torch.isin(keys, _to_keys(local[0], n))
    # One uniform draw per unordered pair, read by both orders: (i, j) with i > j looks up
    # the draw of (j, i), which the sorted keys hold.
    draw = torch.rand(keys.numel(), generator=torch.Generator().manual_seed(int(seed)),
                      dtype=torch.float64).to(keys.device)
    i, j = index
    canonical = torch.searchsorted(keys, torch.minimum(i, j) * n + torch.maximum(i, j))
    keep = inner | (draw[canonical] < share)
    weight = torch.where(inner, weight, weight / share)
    return index[:, keep], weight[keep]
