r"""A memory plan for node-embedding training, made before any large allocation.

From statistics that cost O(E) (N, the edges, the degrees, the feature width) the planner
estimates the pairs and bytes of every stage the trainer will run, and fixes the settings
that the config leaves to ``'auto'`` so that the run fits a memory budget:

* ``graph_pairs_per_row``: the predefined graph's :math:`H`-hop neighbourhoods hold
  :math:`\sum_i \min(c, W_i)` pairs with a per-row cap :math:`c`, where
  :math:`W_i = d_i + \sum_{j \in N(i)} d_j` bounds the 2-hop neighbourhood of :math:`i`
  (an upper bound, since paths that meet again are counted twice). Without a cap a graph of
  average degree 15 has about :math:`N (\bar d^2 + \bar d)` = 240 N of them. ``'auto'``
  keeps every pair when they fit and otherwise the largest cap that fits (the capped rows
  keep a uniform random sample of their outer hop level,
  :func:`~genurl_pyg.structure.hop_distances`).

Bytes per stored pair and the transient factors of each stage are estimates from the data
structures (constants below); ``experiments/scale_benchmark.py --defaults`` records the plan
beside the measured peak RSS (planned / measured between 1.1 and 1.7 from 50k to 1M nodes
on the planted-partition graphs): within a factor of 2, and on the safe side.

If nothing fits, :class:`MemoryBudgetError` is raised before P is built, naming the knobs
that lower the estimate.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

import torch
from torch import Tensor

from ..structure.walks import DEFAULT_TOP_K as WALK_TOP_K, WALK_PARTS
from .config import ConfigError, NodeConfig, resolved_graph_hops, resolved_graph_part

MB = 2 ** 20
PAIR_BYTES = 20            # a stored pair of P: int64 (i, j) + float32 weight
BUILD_FACTOR = 3.0         # sort/unique/coalesce copies while a sparse part is assembled
KNN_PAIR_BYTES = 12        # int64 index + float32 distance per kNN entry
HNSW_BYTES_PER_LINK = 4    # faiss HNSW: int32 links, 2M on level 0
EXACT_KNN_BLOCK = 256 * MB  # the exact search's block of distances (structure/knn.py)
FEATURE_PAIRS_PER_K = 3.0  # feature part after radius pruning and union: about 3k per node
MIN_GRAPH_CAP = 8          # below this the graph part is no longer a neighbourhood
DEFAULT_BUDGET_FRACTION = 0.5


class MemoryBudgetError(ConfigError):
    """No setting that ``'auto'`` may choose fits the memory budget."""


@dataclass
class Stage:
    name: str
    method: str
    pairs: int
    mb: float

    def line(self) -> str:
        pairs = f'{self.pairs:,} pairs' if self.pairs else ''
        return f'{self.name:<22s} {self.method:<44s} {pairs:>18s} {self.mb:9.0f} MB'


@dataclass
class MemoryPlan:
    """The stages, the chosen settings and the estimated peak (MB) against the budget."""
    budget_mb: float
    base_mb: float
    stages: List[Stage] = field(default_factory=list)
    settings: Dict[str, object] = field(default_factory=dict)

    @property
    def peak_mb(self) -> float:
        # Stages run one after another; what a stage leaves behind (P, the encoder input)
        # stays. The peak is the base, plus what stays, plus the largest transient.
        kept = sum(s.mb for s in self.stages if s.name.startswith(('P ', 'encoder input')))
        transient = max((s.mb for s in self.stages
                         if not s.name.startswith(('P ', 'encoder input'))), default=0.0)
        return self.base_mb + kept + transient

    def lines(self) -> List[str]:
        out = [f'memory plan: budget {self.budget_mb:,.0f} MB, estimated peak '
               f'{self.peak_mb:,.0f} MB (process now {self.base_mb:,.0f} MB)']
        out += ['  ' + s.line() for s in self.stages]
        if self.settings:
            out.append('  chosen: ' + ', '.join(f'{k}={v}' for k, v in self.settings.items()))
        return out

    def to_dict(self) -> Dict:
        return {'budget_mb': self.budget_mb, 'base_mb': self.base_mb,
                'peak_mb': self.peak_mb, 'settings': dict(self.settings),
                'stages': [asdict(s) for s in self.stages]}


def available_memory_mb() -> float:
    """MemAvailable from /proc/meminfo (Linux), else the physical memory, in MB."""
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / MB
    except (ValueError, OSError, AttributeError):
        return 8 * 1024.0


def current_rss_mb() -> float:
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / MB
    except (OSError, ValueError, IndexError):
        return 0.0


def default_budget_mb() -> float:
    """A safe share of what this process may still use: 50 % of the available memory,
    plus what the process already holds."""
    return DEFAULT_BUDGET_FRACTION * available_memory_mb() + current_rss_mb()


def neighbourhood_bounds(edge_index: Tensor, num_nodes: int, hops: int) -> Tensor:
    r"""Per-node upper bounds of the hop neighbourhood sizes on the graph taken as
    undirected and simple: :math:`d_i` for one hop, :math:`W_i = d_i + \sum_{j \in N(i)}
    d_j` for two (times :math:`\bar d^{H-2}` beyond). O(E log E) for the deduplication."""
    ei = edge_index[:, edge_index[0] != edge_index[1]]
    lo, hi = torch.minimum(ei[0], ei[1]), torch.maximum(ei[0], ei[1])
    keys = torch.unique(lo * num_nodes + hi)  # each undirected edge once
    a, b = keys // num_nodes, keys % num_nodes
    src, dst = torch.cat([a, b]), torch.cat([b, a])
    deg = torch.bincount(src, minlength=num_nodes).double()
    if hops == 1:
        return deg
    walks = deg + torch.zeros(num_nodes, dtype=torch.float64).index_add_(0, src, deg[dst])
    if hops > 2:
        walks = walks * max(1.0, float(deg.mean())) ** (hops - 2)
    return walks.clamp_max(num_nodes - 1)


def feature_pairs_cap(k: int) -> int:
    """Geodesic pairs per row of the feature part under a tight plan: half the planned
    :data:`FEATURE_PAIRS_PER_K` ``k`` per node, since the fuzzy union at most doubles them."""
    return max(k, math.ceil(FEATURE_PAIRS_PER_K * k / 2))


def plan_memory(num_nodes: int, edge_index: Tensor, num_features: int, cfg: NodeConfig,
                encoder: str, minibatch: bool, knn_method: str,
                budget_mb: Optional[float] = None,
                base_mb: Optional[float] = None) -> MemoryPlan:
    """Estimates every stage and fixes ``graph_pairs_per_row`` when it is ``'auto'``: no cap
    when the plan fits, else the largest cap whose plan fits (binary search on the same
    estimate). Raises :class:`MemoryBudgetError`, before anything large is allocated, when
    no plan fits ``budget_mb`` (default: ``cfg.memory_budget_mb``, else
    :func:`default_budget_mb`). ``base_mb``: what the process holds already (default: its
    resident size now)."""
    budget = float(budget_mb or cfg.memory_budget_mb or default_budget_mb())
    base = current_rss_mb() if base_mb is None else float(base_mb)
    part = resolved_graph_part(cfg)
    walks = part in WALK_PARTS
    if not cfg.use_graph:
        bounds = None
    elif part == 'walks':  # top_k per row, at most doubled by the symmetrisation
        bounds = torch.full((num_nodes,), 2 * WALK_TOP_K, dtype=torch.long)
    elif walks:  # every neighbour plus top_k beyond, at most doubled likewise
        bounds = 2 * (neighbourhood_bounds(edge_index.cpu(), num_nodes, 1) + WALK_TOP_K)
    else:
        bounds = neighbourhood_bounds(edge_index.cpu(), num_nodes, resolved_graph_hops(cfg))
    auto = cfg.graph_pairs_per_row == 'auto' and bounds is not None and not walks

    def make(cap: int) -> MemoryPlan:
        plan = MemoryPlan(budget_mb=budget, base_mb=base)
        plan.stages = _stages(num_nodes, bounds, num_features, cfg, encoder, minibatch,
                              knn_method, cap)
        if auto:
            plan.settings['graph_pairs_per_row'] = cap or 'all'
            if cap and cfg.use_features and cfg.feature_hops > 1:
                # A tight plan makes the feature part's estimate a bound: each row keeps its
                # nearest geodesic pairs up to half the planned pairs per node (the union
                # at most doubles them). Raw features stay below it after radius pruning;
                # smoothed ones (knn_input_hops) reached 5.3 k per node at 1M without it.
                plan.settings['feature_pairs_per_row'] = feature_pairs_cap(cfg.k)
        return plan

    if not auto:
        plan = make(0 if cfg.graph_pairs_per_row == 'auto' else int(cfg.graph_pairs_per_row))
    else:
        plan = make(0)
        if plan.peak_mb > budget:
            lo, hi = MIN_GRAPH_CAP, max(MIN_GRAPH_CAP, int(bounds.max()))
            if make(lo).peak_mb <= budget:
                while lo < hi:  # the peak grows with the cap: the largest cap that fits
                    mid = (lo + hi + 1) // 2
                    if make(mid).peak_mb <= budget:
                        lo = mid
                    else:
                        hi = mid - 1
            plan = make(lo)
    if plan.peak_mb > budget:
        raise MemoryBudgetError(
            f'estimated peak {plan.peak_mb:,.0f} MB exceeds the memory budget of '
            f'{budget:,.0f} MB for {num_nodes:,} nodes (process now {base:,.0f} MB): '
            + '; '.join(' '.join(s.line().split()) for s in plan.stages)
            + ". Raise 'memory_budget_mb' if the machine has more memory, or lower 'k', "
              "'graph_hops', 'graph_pairs_per_row', 'sign_hops', 'hidden_channels' or "
              "'batch_size', or set 'views: false'")
    return plan


def _stages(n: int, bounds: Optional[Tensor], num_features: int, cfg: NodeConfig,
            encoder: str, minibatch: bool, knn_method: str, cap: int) -> List[Stage]:
    k = min(cfg.k, n - 1)
    width = min(num_features, cfg.knn_max_dim) if cfg.knn_max_dim else num_features
    stages = []
    feat_pairs = 0
    if cfg.use_features and not (cfg.use_graph and cfg.lam == 1):
        if knn_method == 'faiss':
            index_mb = n * (4 * width + 2 * 32 * HNSW_BYTES_PER_LINK * 1.2) / MB
            method = f'faiss HNSW on {width} columns'
        elif knn_method == 'pynndescent':
            index_mb = n * (4 * width + 8 * k * 4) / MB
            method = f'NN-descent on {width} columns'
        else:
            index_mb = EXACT_KNN_BLOCK / MB + n * 4 * width / MB
            method = f'exact, blocks of 256 MB, {width} columns'
        hops = cfg.knn_input_hops if isinstance(cfg.knn_input_hops, int) else 0
        if hops:  # A_hat^h X: a second copy of the features beside X (float32)
            index_mb += n * 4 * num_features / MB
            method += f' of A_hat^{hops} X'
        searched = k
        if cfg.neighbor_scaling is not None:  # local scaling re-ranks 3k candidates
            searched = min(3 * k, n - 1)
            method += f', {searched} candidates re-ranked by local scaling'
        stages.append(Stage('kNN search', method, n * searched,
                            index_mb + n * searched * KNN_PAIR_BYTES / MB))
        feat_pairs = int(n * k * (FEATURE_PAIRS_PER_K if cfg.feature_hops > 1 else 2))
        stages.append(Stage('P feature part', f'{cfg.feature_hops}-hop geodesics, union',
                            feat_pairs, feat_pairs * PAIR_BYTES / MB))
    graph_pairs = 0
    if bounds is not None:
        graph_pairs = int(bounds.clamp_max(cap).sum()) if cap else int(bounds.sum())
        method = ('random-walk visits' if resolved_graph_part(cfg) in WALK_PARTS else
                  f'{resolved_graph_hops(cfg)} hops'
                  + (f', {cap} pairs per node (sampled)' if cap else ''))
        stages.append(Stage('P graph part', method, graph_pairs, graph_pairs * PAIR_BYTES / MB))
    total = feat_pairs + graph_pairs
    stages.append(Stage('building P', 'coalesce and mix the parts', total,
                        total * PAIR_BYTES * BUILD_FACTOR / MB))
    if cfg.views:
        if minibatch:
            stages.append(Stage('views', 'sampled from P (not materialised)', 0, 0.0))
        else:
            pairs = 4 * total + 2 * n
            stages.append(Stage('P two views', 'materialised for full-graph steps', pairs,
                                pairs * PAIR_BYTES * (1 + BUILD_FACTOR) / MB))
    stages.append(Stage('encoder input', encoder, 0, _encoder_mb(n, num_features, cfg, encoder)))
    stages.append(Stage('training step', 'mini-batch' if minibatch else 'full graph', 0,
                        _step_mb(n, cfg, minibatch, encoder)))
    return stages


def _encoder_mb(n: int, d: int, cfg: NodeConfig, encoder: str) -> float:
    if encoder == 'sign':
        return n * (cfg.sign_hops + 1) * d * 4 / MB * 2  # the propagated copy + its source
    if cfg.encoder_input_hops:  # A_hat^h X is dense whatever X was: the copy + its source
        return n * d * 4 / MB * 2
    return n * d * 4 / MB


def _step_mb(n: int, cfg: NodeConfig, minibatch: bool, encoder: str = 'gcn') -> float:
    # EgoGCN runs two stacks side by side: twice the activations of one.
    width = max(cfg.hidden_channels, cfg.out_channels) * (2 if encoder == 'ego-gcn' else 1)
    if minibatch:
        b = cfg.batch_size or min(1024, n)
        negatives = cfg.neg_per_anchor if cfg.negatives == 'uniform' else 0
        rows = b * (1 + cfg.pos_per_anchor + negatives) * 2
        return rows * width * 4 * cfg.num_layers * 4 / MB
    views = 2 if cfg.views else 1
    dense = (views * n) ** 2 * 4 * 6 / MB if n * views <= cfg.all_pairs_max_nodes else 0.0
    return views * n * width * 4 * cfg.num_layers * 8 / MB + dense
