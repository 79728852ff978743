"""Stateful construction of GenURL's input similarity: static and dynamic P."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from .._validation import check_edge_index, check_features, check_positive_float, \
    check_positive_int
from .calibration import DEFAULT_INPUT_NU
from .perplexity import perplexity_similarity
from .similarity import (Lambda, Similarity, combine, estimate_lambda, feature_similarity,
                         graph_similarity)
from .hubness import check_neighbor_scaling, local_scaling_knn
from .two_scale import check_mixture, two_scale_similarity
from .walks import WALK_PARTS, walk_similarity

GRAPH_PARTS = ('geodesic', 'walks', 'degree_walks')


class SimilarityBuilder:
    r"""Builds :math:`P = (1-\lambda) P_{\text{feat}} + \lambda P_{\text{graph}}`.

    *Static* P: call :meth:`build` once. *Dynamic* P: call :meth:`build` once, then
    :meth:`rebuild_features` with new features (for example a stop-gradient copy of the
    encoder's output); the graph part and :math:`\lambda` are cached and reused, only
    :math:`P_{\text{feat}}` is recomputed.

    Args:
        k (int): neighbours in the feature kNN graph.
        metric (str): ``'euclidean'`` or ``'cosine'``.
        feature_hops (int): hop limit of the geodesics on the kNN graph (1: plain kNN).
        graph_hops (int): hop limit on the predefined graph.
        lam (float or 'auto'): weight of the graph part (see :func:`estimate_lambda`).
        nu (float): input-side Student-t degrees of freedom.
        knn_method (str): backend of :func:`knn_graph`.
        max_pairs_per_row (int, optional): cap on geodesic pairs per point.
        min_weight (float): geodesic (non-kNN) pairs with a smaller membership are dropped.
        reduce_dim (int, optional): when ``x`` has more columns, :math:`P_{\text{feat}}` is
            built on a rank-``reduce_dim`` projection of ``x`` (randomised SVD,
            ``torch.svd_lowrank``; rows unit-normalised first for the cosine metric). The
            exact kNN then costs O(N^2 r) instead of O(N^2 D): for bag-of-words features
            (D in the thousands) a large saving, at the price of approximate neighbours.
            ``None``: always use ``x`` as is.
        use_features (bool): include :math:`P_{\text{feat}}` (ablation switch).
        use_graph (bool): include :math:`P_{\text{graph}}` (ablation switch).
        graph_pairs_per_row (int, optional): cap on the graph part's pairs per node (a
            uniform sample of the outer hop level, seeded by ``seed``; see
            :func:`graph_similarity`). ``None``: every pair within ``graph_hops``.
        graph_part (str): ``'geodesic'`` (hop-limited geodesics, the paper's),
            ``'walks'`` (random-walk visits, :func:`~genurl_pyg.structure.walks.
            walk_similarity`: our addition, for graphs without features) or
            ``'degree_walks'`` (the same with the first step exact and rows sized to the
            degree, ``size_to_degree=True``: ours, for dense graphs without features).
        perplexity (float, optional): build :math:`P_{\text{feat}}` as t-SNE does instead
            (:func:`~genurl_pyg.structure.perplexity.perplexity_similarity`: Gaussian rows
            of entropy log(perplexity) on the floor(3 perplexity) nearest neighbours,
            symmetrised); ``k``, ``feature_hops`` and ``nu`` then do not enter the feature
            part. Ours, not the paper's. ``None``: the paper's calibrated geodesics.
        wide_k (int, optional): build :math:`P_{\text{feat}}` over two neighbourhood
            scales, :math:`(1-\beta) P_k + \beta \hat P_{K}` with :math:`K` = ``wide_k``,
            from one :math:`K`-NN search
            (:func:`~genurl_pyg.structure.two_scale.two_scale_similarity`; ours, not the
            paper's; one hop only, so ``feature_hops`` must be 1). ``None``: one scale.
        wide_weight (float): :math:`\beta`, the wide part's weight.
        wide_share (float): share of the wide-only pairs kept (re-weighted, unbiased).
        neighbor_scaling (str, optional): ``'local'``: choose the ``k`` neighbours of
            :math:`P_{\text{feat}}` by the locally scaled distance
            :math:`d_{ij}/\sqrt{s_i s_j}` among the 3k nearest, which removes hub edges
            (:func:`~genurl_pyg.structure.hubness.local_scaling_knn`; ours, not the
            paper's; not with ``perplexity`` or ``wide_k``). ``None``: the plain kNN.
    """

    def __init__(self, k: int = 15, metric: str = 'euclidean', feature_hops: int = 2,
                 graph_hops: int = 1, lam: Lambda = 'auto', nu: float = DEFAULT_INPUT_NU,
                 knn_method: str = 'auto', max_pairs_per_row: Optional[int] = None,
                 min_weight: float = 1e-4, reduce_dim: Optional[int] = None,
                 use_features: bool = True, use_graph: bool = True,
                 graph_pairs_per_row: Optional[int] = None, seed: int = 0,
                 graph_part: str = 'geodesic', perplexity: Optional[float] = None,
                 wide_k: Optional[int] = None, wide_weight: float = 0.2,
                 wide_share: float = 1.0, neighbor_scaling: Optional[str] = None) -> None:
        if graph_part not in GRAPH_PARTS:
            raise ValueError(f"'graph_part' must be one of {GRAPH_PARTS}, got {graph_part!r}")
        self.graph_part = graph_part
        check_positive_int(k, 'k')
        check_positive_int(feature_hops, 'feature_hops')
        check_positive_int(graph_hops, 'graph_hops')
        if isinstance(lam, str):
            if lam != 'auto':
                raise ValueError(f"'lam' must be a float in [0, 1] or 'auto', got {lam!r}")
        elif isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0 <= lam <= 1:
            raise ValueError(f"'lam' must be a float in [0, 1] or 'auto', got {lam!r}")
        if not (use_features or use_graph):
            raise ValueError("at least one of 'use_features' and 'use_graph' must be True")
        self.k, self.metric = k, metric
        self.feature_hops, self.graph_hops = feature_hops, graph_hops
        self.lam, self.nu = lam, nu
        self.knn_method, self.max_pairs_per_row = knn_method, max_pairs_per_row
        if not 0 <= min_weight < 1:
            raise ValueError(f"'min_weight' must be in [0, 1), got {min_weight}")
        self.min_weight = min_weight
        if reduce_dim is not None:
            check_positive_int(reduce_dim, 'reduce_dim')
        self.reduce_dim = reduce_dim
        if perplexity is not None:
            check_positive_float(perplexity, 'perplexity')
        self.perplexity = perplexity
        if wide_k is not None:
            check_positive_int(wide_k, 'wide_k')
            if wide_k <= k:
                raise ValueError(f"'wide_k' ({wide_k}) must be larger than 'k' ({k})")
            if feature_hops != 1 or perplexity is not None:
                raise ValueError("'wide_k' builds a one-hop calibrated P over two scales; it "
                                 "needs feature_hops=1 and no perplexity")
        check_mixture(wide_weight, wide_share)
        self.neighbor_scaling = check_neighbor_scaling(neighbor_scaling)
        if neighbor_scaling is not None and (wide_k is not None or perplexity is not None):
            raise ValueError("'neighbor_scaling' chooses the k neighbours of the calibrated "
                             "P; it cannot be combined with 'perplexity' or 'wide_k'")
        self.wide_k, self.wide_weight, self.wide_share = wide_k, wide_weight, wide_share
        self.use_features, self.use_graph = use_features, use_graph
        if graph_pairs_per_row is not None:
            check_positive_int(graph_pairs_per_row, 'graph_pairs_per_row')
        self.graph_pairs_per_row, self.seed = graph_pairs_per_row, seed
        self.num_nodes_: Optional[int] = None
        self.lam_: Optional[float] = None
        self.graph_part_: Optional[Tuple[Tensor, Tensor]] = None
        # The [D, reduce_dim] basis the last feature part was searched in (None: the raw
        # features), so that new points can be projected into the same space.
        self.basis_: Optional[Tensor] = None

    def build(self, x: Optional[Tensor] = None, edge_index: Optional[Tensor] = None,
              num_nodes: Optional[int] = None) -> Similarity:
        """Builds P from features ``x`` and/or a predefined graph ``edge_index``."""
        if x is None and edge_index is None:
            raise ValueError("build() needs 'x', 'edge_index' or both")
        if x is not None:
            x = check_features(x, 'x', min_rows=2)
            if num_nodes is not None and num_nodes != x.size(0):
                raise ValueError(f"'num_nodes' ({num_nodes}) does not match x.size(0) "
                                 f"({x.size(0)})")
            num_nodes = x.size(0)
        elif num_nodes is None:
            num_nodes = int(edge_index.max()) + 1 if edge_index.numel() else 0
        use_graph = self.use_graph and edge_index is not None
        use_feat = self.use_features and x is not None
        if not (use_graph or use_feat):
            raise ValueError('the enabled parts of P have no input: use_features needs x, '
                             'use_graph needs edge_index')
        if use_graph:
            if edge_index.dim() == 2 and edge_index.size(-1) == 0 and use_feat:
                raise ValueError("'edge_index' is empty: the graph has no edges, so P's "
                                 "predefined-graph part has nothing to hold; set "
                                 "use_graph=False (config key 'use_graph: false') to build "
                                 "P from the features alone")
            edge_index = check_edge_index(edge_index, num_nodes)
        self.num_nodes_ = num_nodes
        self.graph_part_ = self._graph_part(edge_index, num_nodes) if use_graph else None
        if not use_graph:
            lam = 0.0
        elif not use_feat:
            lam = 1.0
        elif self.lam == 'auto':
            lam = estimate_lambda(x, edge_index, metric=self.metric)
        else:
            lam = float(self.lam)
        self.lam_ = lam
        feat = self._feature_part(x) if use_feat and lam < 1 else None
        return self._combine(feat)

    def _graph_part(self, edge_index: Tensor, num_nodes: int) -> Tuple[Tensor, Tensor]:
        if self.graph_part in WALK_PARTS:
            return walk_similarity(edge_index, num_nodes, seed=self.seed,
                                   size_to_degree=self.graph_part == 'degree_walks')
        return graph_similarity(edge_index, num_nodes, self.graph_hops, self.nu,
                                self.graph_pairs_per_row, self.seed)

    @torch.no_grad()
    def rebuild_features(self, x: Tensor) -> Similarity:
        """Dynamic P: recomputes the feature part from new ``x``, keeps graph part and λ."""
        if self.num_nodes_ is None:
            raise RuntimeError('call build() before rebuild_features()')
        x = check_features(x.detach(), 'x', min_rows=2)
        if x.size(0) != self.num_nodes_:
            raise ValueError(f"'x' has {x.size(0)} rows but P was built for "
                             f"{self.num_nodes_} nodes")
        if not self.use_features:
            return self._combine(None)
        return self._combine(self._feature_part(x))

    def _feature_part(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        x, self.basis_ = project_features(x, self.reduce_dim, self.metric)
        self.knn_info_ = {}  # the kNN backend used (and its measured recall, if checked)
        if self.perplexity is not None:
            return perplexity_similarity(x, self.perplexity, self.metric, self.knn_method,
                                         knn_info=self.knn_info_)
        if self.wide_k is not None and self.k < x.size(0) - 1:  # else no wider scale exists
            return two_scale_similarity(x, self.k, min(self.wide_k, x.size(0) - 1),
                                        self.wide_weight, self.wide_share, self.metric,
                                        self.nu, self.knn_method, self.seed,
                                        knn_info=self.knn_info_)
        knn = None
        if self.neighbor_scaling == 'local' and self.k < x.size(0) - 1:
            knn = local_scaling_knn(x, self.k, metric=self.metric, method=self.knn_method,
                                    info=self.knn_info_)
        return feature_similarity(x, k=self.k, metric=self.metric, hops=self.feature_hops,
                                  nu=self.nu, knn_method=self.knn_method,
                                  max_pairs_per_row=self.max_pairs_per_row,
                                  min_weight=self.min_weight, knn=knn,
                                  knn_info=self.knn_info_)

    def _combine(self, feat) -> Similarity:
        lam = self.lam_ if feat is not None else 1.0
        index, weight = combine(feat, self.graph_part_, lam, self.num_nodes_)
        info = {'feature_pairs': 0 if feat is None else int(feat[1].numel()),
                'graph_pairs': 0 if self.graph_part_ is None else int(self.graph_part_[1].numel())}
        return Similarity(index, weight, self.num_nodes_, lam, info)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(k={self.k}, metric={self.metric!r}, '
                f'feature_hops={self.feature_hops}, graph_hops={self.graph_hops}, '
                f'lam={self.lam!r}, nu={self.nu}, graph_part={self.graph_part!r}'
                + (f', perplexity={self.perplexity}' if self.perplexity is not None else '')
                + (f', wide_k={self.wide_k}, wide_weight={self.wide_weight}, '
                   f'wide_share={self.wide_share}' if self.wide_k is not None else '')
                + (f', neighbor_scaling={self.neighbor_scaling!r}'
                   if self.neighbor_scaling is not None else '')
                + ')')


def reduce_features(x: Tensor, rank: Optional[int], metric: str = 'euclidean',
                    seed: int = 0) -> Tensor:
    """Rank-``rank`` projection ``x V`` from a randomised SVD (no centring, so sparse-like
    data keeps its geometry for the cosine metric); ``x`` unchanged if it is narrow enough.
    O(N·D·rank)."""
    return project_features(x, rank, metric, seed)[0]


def project_features(x: Tensor, rank: Optional[int], metric: str = 'euclidean',
                     seed: int = 0) -> Tuple[Tensor, Optional[Tensor]]:
    """:func:`reduce_features` and the ``[D, rank]`` basis ``V`` it projected on (``None``
    when ``x`` is narrow enough), so that new points can be projected into the same space
    (cosine: after scaling rows to unit norm). Deterministic for a ``seed``; the global
    random state is untouched."""
    if rank is None or x.size(1) <= rank:
        return x, None
    if metric == 'cosine':
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # svd_lowrank draws a random sketch; keep P deterministic
    try:
        _, _, v = torch.svd_lowrank(x, q=rank, niter=2)
    finally:
        torch.random.set_rng_state(state)
    return x @ v, v


def build_similarity(x: Optional[Tensor] = None, edge_index: Optional[Tensor] = None,
                     num_nodes: Optional[int] = None, **kwargs) -> Similarity:
    """Functional form of :class:`SimilarityBuilder` (static P); kwargs go to its ``__init__``."""
    return SimilarityBuilder(**kwargs).build(x, edge_index, num_nodes)
