"""Every switch of node-embedding training in one validated, YAML-serialisable config."""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import yaml


GRAPH_PARTS = ('geodesic', 'walks', 'degree_walks', 'auto')
# Encoders that take input_skip: an averaging GNN whose output gets the input's linear map.
SKIP_ENCODERS = ('gcn', 'gat')
ENCODERS = ('gcn', 'sage', 'ego-gcn', 'gat', 'mlp', 'sign', 'embedding', 'auto')
AUTO_SIGN_MIN_NODES = 100_000      # encoder 'auto': decoupled (SIGN) beyond this many nodes
AUTO_NEIGHBOR_MIN_NODES = 100_000  # graph_batching 'auto': NeighborLoader beyond this
GRAPH_BATCHING = ('auto', 'full', 'neighbor')
LOSSES = ('gkl', 'kl', 'fuzzy_ce', 'l1', 'mse', 'infonce')
METRICS = ('euclidean', 'cosine')
BATCH_MODES = ('auto', 'all', 'sampled')
KNN_METHODS = ('auto', 'exact', 'faiss', 'pynndescent')
FEATURE_NORMS = ('none', 'row')
#: Where an anchor batch's negative partners come from: ``'in_batch'`` (the other anchors of
#: the batch, whose rows go through the encoder anyway) or ``'uniform'`` (any node, one more
#: encoder row per negative). Both give the same estimate in expectation.
NEGATIVES = ('in_batch', 'uniform')
#: What keeps the embedding from collapsing: GKL's pairwise ``'student_t'`` repulsion (the
#: paper's), a ``'decorrelation'`` term on each view's covariance in its place, or the
#: repulsion with CCA-SSG's correlation term beside it, ``'student_t+decorrelation'`` (ours).
REPULSIONS = ('student_t', 'decorrelation', 'student_t+decorrelation')
#: Where the correlation term of ``'student_t+decorrelation'`` reads: the points Q sees
#: (``'z'``) or the representation users keep (``'h'``, before the projector or sphere).
DECORRELATION_INPUTS = ('z', 'h')
#: The shared-negatives block's product precisions (nn.pair_distance.PRODUCT_DTYPES).
BLOCK_PRECISIONS = ('float32', 'bfloat16', 'auto')
#: Where the views' input smoothing runs (``encoder_input_hops``): over the full graph once
#: (``'shared'``) or over each view's own dropped-edge graph (``'own'``).
VIEW_SMOOTHINGS = ('shared', 'own')
#: What the views' feature mask drops: whole columns (GRACE) or single (node, feature) entries.
FEATURE_MASK_FORMS = ('columns', 'entries')


_DEVICE = re.compile(r'^(cpu|cuda(:[0-9]+)?)$')


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range."""


def near_miss_hints(unknown, known) -> str:
    """``"'lamda' (did you mean 'lam'?), 'colour'"``: each unknown name with its closest
    known one, when there is a close one."""
    hints = [f'{k!r} (did you mean {m[0]!r}?)' if m else repr(k) for k in unknown
             for m in [difflib.get_close_matches(k, list(known), n=1, cutoff=0.6)]]
    return ', '.join(hints)


def checked_keys(values: Optional[Dict[str, Any]], cls: type, what: str,
                 hint: str = '') -> Dict[str, Any]:
    """A copy of ``values`` (``None``: empty) once every key is checked to name a field of
    the dataclass ``cls``; otherwise :class:`ConfigError` names each unknown key ``what``
    (e.g. ``'config key'``) with its closest known name, then ``hint``."""
    values = dict(values or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {what}(s) {near_miss_hints(unknown, known)}{hint}")
    return values


def check_integer(value: Any, name: str, lo: int, what: str = 'config') -> None:
    """Raises :class:`ConfigError` unless ``value`` is an integer (not a bool) ``>= lo``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ConfigError(f"{what} '{name}' must be an integer >= {lo}, got {value!r}")


def check_number(value: Any, name: str, lo: float, hi: Optional[float] = None,
                 lo_open: bool = False, what: str = 'config') -> None:
    """Raises :class:`ConfigError` unless ``value`` is a finite number (not a bool) in
    ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``; no upper bound when ``hi`` is None)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{what} '{name}' must be a number, got {value!r}")
    if not math.isfinite(value):  # NaN passes every comparison: reject it by name
        raise ConfigError(f"{what} '{name}' must be a finite number, got {value!r}")
    if (value <= lo if lo_open else value < lo) or (hi is not None and value > hi):
        rng = f"{'(' if lo_open else '['}{lo}, {hi if hi is not None else 'inf'}]"
        raise ConfigError(f"{what} '{name}' must be in {rng}, got {value!r}")


def check_number_or_auto(value: Any, name: str, lo: float, hi: Optional[float] = None,
                         what: str = 'config') -> None:
    """:func:`check_number`, or the string ``'auto'``; any other string is named with the
    range it should have been in."""
    if isinstance(value, str):
        if value != 'auto':
            rng = f'>= {lo:g}' if hi is None else f'in [{lo:g}, {hi:g}]'
            raise ConfigError(f"{what} '{name}' must be a number {rng} or 'auto', got "
                              f"{value!r}")
    else:
        check_number(value, name, lo, hi, what=what)


def check_repulsion(repulsion: Any, loss: Any, latent_radius: float,
                    what: str = 'config', decorrelation_weight: float = 1.0) -> None:
    """Raises :class:`ConfigError` unless ``repulsion`` is one of :data:`REPULSIONS` and,
    for ``'decorrelation'``, the loss is GKL (whose repulsion it replaces) and Q is on a
    sphere (``latent_radius > 0``); and for ``'student_t'`` when ``decorrelation_weight``
    was moved from its default 1.0 (it weighs a term that repulsion does not have, so the
    setting would do nothing). Shared by the node and image configs."""
    if repulsion not in REPULSIONS:
        raise ConfigError(f"{what} 'repulsion' must be one of {REPULSIONS}, got {repulsion!r}")
    if repulsion == 'student_t' and decorrelation_weight != 1.0:
        raise ConfigError(f"{what} 'decorrelation_weight' weighs the term of repulsion "
                          "'decorrelation' or 'student_t+decorrelation'; with 'student_t' it "
                          f"would do nothing (got {decorrelation_weight}; leave it at 1.0 or "
                          "choose one of those repulsions)")
    if repulsion != 'decorrelation':  # the repulsion stays: any loss, any scale
        return
    if loss != 'gkl':
        raise ConfigError(f"{what} 'repulsion: decorrelation' replaces GKL's repulsion and "
                          f"needs 'loss: gkl', got {loss!r}")
    if not latent_radius > 0:
        # Without a fixed scale the attraction alone shrinks every distance, and the
        # covariance target (r^2 / D) I has no r to be measured against.
        raise ConfigError(f"{what} 'repulsion: decorrelation' needs Q on a sphere: set "
                          "'latent_radius' > 0 (e.g. 3)")


def config_differences(a: Dict[str, Any], b: Dict[str, Any]) -> List[str]:
    """``'key: a -> b'`` for every key whose value differs between two config dicts."""
    keys = sorted(set(a) | set(b))
    return [f'{k}: {a.get(k, "<unset>")!r} -> {b.get(k, "<unset>")!r}' for k in keys
            if a.get(k, '<unset>') != b.get(k, '<unset>')]


@dataclass
class NodeConfig:
    r"""Configuration of :func:`genurl_pyg.fit_node_embeddings` (all ablation switches).

    Encoder input: ``feature_norm`` (``'row'``: each node's features scaled to unit L1 norm before
    the encoder, as PyG's ``NormalizeFeatures``; P's kNN is unaffected under the cosine metric),
    ``encoder_input_hops`` (the encoder reads :math:`\hat A^h X`, ``h = encoder_input_hops``,
    in place of :math:`X`: SGC's smoothing computed once before training, O(h·E·D) time and a
    dense N×D copy; a 1-layer GCN then spans h + 1 hops with one weight matrix, and the
    views mask the smoothed columns. Ours, not the paper's; 0, the default, reads X. On
    node ids, which have no columns to smooth, it is rejected. Smoothing fills in sparse
    rows (about 7x the non-zeros on Coauthor-CS's bag-of-words, 0.9 % -> 6.7 % dense):
    there a GCN or MLP on full-graph steps smooths after its first weight matrix instead,
    :math:`\hat A^h (X W)`, the same function at O((nnz(X) + h nnz(Â)) d) per call,
    whenever that is cheaper (:mod:`genurl_pyg.node.deferred_smoothing`)).
    ``input_skip`` (ours, not the paper's; GCN and GAT only): a bias-free linear path from
    the encoder's input into the representation, :math:`h = \mathrm{PReLU}(\mathrm{GNN}(X)
    + X W_s)`, so that the input stays linearly readable after the averaging layers; one
    more D×d weight matrix, O(nnz(X)·d) per forward. On Coauthor Physics it gained +0.42 ±
    0.14 on validation (paired over 3 splits; on Photo it was level).
    ``input_skip_rank`` (ours; 0, the default, is the full D×d map): with ``input_skip``, the
    skip map factored as :math:`W_s = U V` of rank r (:class:`~genurl_pyg.node.encoders.
    LowRankSkip`), r (D + d) weights and O(nnz(X)·r + N·r·d) per forward: the input's
    leading directions stay readable without the D×d matrix that cost Coauthor-CS 0.62.
    Encoder: ``encoder`` (``'gcn'``, ``'sage'``, ``'gat'``, ``'mlp'``; ``'ego-gcn'``: an MLP
    channel beside a GCN channel, concatenated (``2 * out_channels`` wide), one projector and
    loss each; ``'sign'``: an MLP on
    precomputed :math:`[X, \hat A X, \dots, \hat A^K X]`, ``K = sign_hops``, trained in true
    mini-batches; ``'auto'``: ``'sign'`` beyond 100k nodes, else ``'gcn'``, or ``'ego-gcn'``
    when the label-free graph–feature agreement is
    below :data:`~genurl_pyg.structure.trust.LOW_TRUST`, or ``'mlp'`` with
    ``use_graph: false`` or where the edges look like a random graph
    (:func:`~genurl_pyg.structure.trust.graph_is_noise`, any size); ``'embedding'``: one
    learnable vector per node, no features read
    (:class:`~genurl_pyg.nn.models.NodeEmbedding`). On a graph without features (no ``x``,
    or one-hot ids) every encoder reads node ids: ``'gcn'``, ``'sage'``, ``'gat'`` pass
    messages over a table of learnable vectors, and ``'auto'`` is ``'gcn'``), ``hidden_channels``,
    ``out_channels`` (the kept representation
    :math:`h`), ``num_layers``, ``dropout``, ``projector_channels`` (0: no projector).
    Input similarity P: ``k``, ``metric``, ``feature_hops``, ``graph_hops`` (``'auto'``: 2,
    and 1 on a graph without node features, where P is the graph alone and longer
    geodesics blurred the planted blocks in our measurements), ``graph_part``
    (``'geodesic'``: hop-limited geodesics on the graph, the paper's; ``'walks'``: the share
    of random-walk visits within 10 steps, top 50 per node
    (:func:`~genurl_pyg.structure.walks.walk_similarity`, ours); ``'degree_walks'``: the
    same with the first step exact, every one-hop neighbour kept and 50 visits beyond,
    max(40, degree) walks per node (ours, for dense graphs); ``'auto'``: walks on a graph
    without features and a mean degree below 50, geodesics otherwise), ``lam`` (float or
    ``'auto'``: the agreement clipped to [0, 1], and no graph part at all where the edges
    look like a random graph), ``nu_input``, ``knn_max_dim`` (wider features are projected to this rank
    before the kNN search; 0: never), ``knn_method`` (``'exact'``, ``'faiss'``,
    ``'pynndescent'``; ``'auto'``: exact up to 100k nodes), ``knn_input_hops`` (the feature
    part of P is searched on :math:`\hat A^h X`, ``h = knn_input_hops``, instead of the raw
    features ``X`` (0); our addition, not the paper's; ``'auto'``: 2 where the search is
    approximate and the graph agrees with the features, else 0, see
    :func:`resolved_knn_input_hops`), ``neighbor_scaling`` (``'local'``: the feature part's
    k neighbours chosen by locally scaled distance among the 3k nearest, removing edges to
    hubs, :func:`~genurl_pyg.structure.hubness.local_scaling_knn`; ours; ``None``, the
    default: the plain kNN), ``use_features``, ``use_graph``;
    ``graph_pairs_per_row`` (cap on the graph part's pairs per node, the outer hop level
    sampled uniformly; 0: no cap; ``'auto'``: the memory plan's choice, no cap when it
    fits), ``memory_budget_mb`` (0: 50 % of the available memory; see
    :mod:`genurl_pyg.node.plan`); dynamic P (recomputes the feature part, so it needs
    ``use_features``): ``dynamic``,
    ``dynamic_start``, ``dynamic_every``, ``dynamic_weight``.
    Views: ``views`` (two augmented copies, their pair gets ``view_weight``),
    ``feature_mask``, ``edge_drop``; ``feature_mask_form`` (``'columns'``, the default:
    whole feature columns, as GRACE; ``'entries'``: each (node, feature) entry on its own,
    so one node's view keeps words its neighbour's view drops); ``view_smoothing`` (with
    ``encoder_input_hops: h``; ours: ``'shared'``, the default, masks the full graph's
    :math:`\hat A^h X` (column masks commute with :math:`\hat A`, so only the encoder's
    own layer sees the dropped edges); ``'own'``: each view augments the unsmoothed input
    and smooths it over its own dropped-edge graph, :math:`\hat A_v^h (X \odot M_v)`, as
    GRACE and CCA-SSG augment before every propagation; one more normalised adjacency,
    O(E log E), per view and step, and with dense input rows an
    O(h·E·D) smoothing per view; full-graph steps only).
    Objective: ``loss``, ``nu_latent``, ``alpha``; ``latent_radius`` (r > 0: Q is computed
    on :math:`z / \lVert z\rVert \cdot r`, the projections on a sphere of radius r, so the
    Student-t kernel sees a fixed scale; the kept representation h is not normalised;
    ours, 0, the default, the paper's Q on z itself:
    :class:`~genurl_pyg.nn.models.SphereProjection`); ``repulsion`` (``'student_t'``, the
    default: GKL as the paper writes it; ``'decorrelation'``: GKL's attraction
    :math:`-p\log q` alone, with ``decorrelation_weight`` times
    :func:`~genurl_pyg.nn.decorrelation.decorrelation_loss` (each view's covariance pulled
    to :math:`(r^2/D) I`) in place of the pairwise repulsion, so ``alpha`` is unused; needs
    ``loss: gkl``, Q on a sphere (``latent_radius > 0``, which fixes the scale the
    covariance is measured against) and full-graph steps; ``'student_t+decorrelation'``:
    the loss as it is, repulsion included, plus ``decorrelation_weight`` times
    :func:`~genurl_pyg.nn.decorrelation.correlation_loss` (each view's column correlations
    pulled to 0, CCA-SSG's term; the repulsion sets the scale, so no sphere is needed);
    full-graph steps; ``decorrelation_probes`` m > 0 estimates that term from m random
    probes per step, unbiased, O(N D m) instead of O(N D^2); 0, the default: exact;
    ``decorrelation_input`` which points that term reads: ``'z'``, the default, the points Q
    sees (on the sphere when ``latent_radius > 0``), or ``'h'``, the kept representation
    before the projector (the same points when there is no projector and no sphere); ours);
    ``batch_mode`` (``'all'`` pairs,
    ``'sampled'`` with ``num_pos``/``num_neg``, or ``'auto'``: all pairs up to
    ``all_pairs_max_nodes`` nodes), ``shared_negatives`` (full-graph sampled steps: the
    ``num_neg`` negatives as every row against ``ceil(num_neg / N)`` shared uniform
    columns, distances from one matrix product, instead of independent uniform pairs
    gathered row by row; the same unbiased estimate, correlated within a step; ours, off by
    default: :func:`~genurl_pyg.nn.functional.shared_columns_loss`), ``block_precision``
    (that block's three matrix products: ``'float32'``, the default, or ``'bfloat16'``
    operands accumulated in float32, about 4x faster products where the CPU has
    AVX512-BF16/AMX or on a recent GPU, slower where bfloat16 is emulated; a change to the
    numbers: :func:`~genurl_pyg.nn.pair_distance.column_block_sqdist`; needs
    ``shared_negatives: true``; ``'auto'``: bfloat16 where the training device multiplies
    it natively (:func:`~genurl_pyg.utils.devices.native_bfloat16`), else float32).
    Mini-batch paths (``encoder: sign``, and message passing with ``graph_batching:
    neighbor``; ``'auto'``: neighbour sampling beyond 100k nodes when pyg-lib or
    torch-sparse is installed): an epoch is one pass over all anchors in batches of
    ``batch_size`` (0: ``min(1024, N)``), each anchor with ``pos_per_anchor`` positives drawn
    from its row of P and ``neg_per_anchor`` uniform negatives, drawn among the batch's other
    anchors (``negatives: in_batch``, the default: their rows are computed anyway, so a step
    runs about ``B (1 + r)`` rows through the encoder instead of ``B (1 + r + m)``, for the
    same estimate in expectation) or among all nodes (``'uniform'``). The defaults (in-batch,
    r = 5, m = 20) matched uniform m = 5 on Photo's validation nodes (SIGN, 30 epochs, 3
    seeds: 90.50 vs 90.54 %) at 57 % of its time; in-batch m = 5 was 0.56 lower.
    ``num_neighbors`` per layer for the sampled subgraphs.
    Optimisation: ``epochs``, ``lr``, ``weight_decay``, ``seed``, ``device``.
    """
    encoder: str = 'auto'
    feature_norm: str = 'none'
    encoder_input_hops: int = 0
    input_skip: bool = False
    input_skip_rank: int = 0
    hidden_channels: int = 512
    out_channels: int = 512
    num_layers: int = 1
    sign_hops: int = 2
    dropout: float = 0.0
    projector_channels: int = 128
    k: int = 15
    metric: str = 'cosine'
    feature_hops: int = 2
    graph_hops: Union[int, str] = 'auto'
    graph_part: str = 'auto'
    lam: Union[float, str] = 'auto'
    nu_input: float = 100.0
    knn_max_dim: int = 256
    knn_method: str = 'auto'
    knn_input_hops: Union[int, str] = 'auto'
    neighbor_scaling: Optional[str] = None
    graph_pairs_per_row: Union[int, str] = 'auto'
    memory_budget_mb: float = 0.0
    use_features: bool = True
    use_graph: bool = True
    dynamic: bool = False
    dynamic_start: int = 100
    dynamic_every: int = 50
    dynamic_weight: float = 0.5
    views: bool = True
    view_weight: float = 1.0
    feature_mask: float = 0.2
    edge_drop: float = 0.2
    feature_mask_form: str = 'columns'
    view_smoothing: str = 'shared'
    loss: str = 'gkl'
    nu_latent: float = 1.0
    alpha: float = 0.1
    latent_radius: float = 0.0
    repulsion: str = 'student_t'
    decorrelation_weight: float = 1.0
    decorrelation_probes: int = 0
    decorrelation_input: str = 'z'
    batch_mode: str = 'auto'
    all_pairs_max_nodes: int = 3000
    num_pos: int = 20000
    num_neg: int = 100000
    shared_negatives: bool = False
    block_precision: str = 'float32'
    graph_batching: str = 'auto'
    num_neighbors: List[int] = dataclasses.field(default_factory=lambda: [15, 10])
    batch_size: int = 0
    pos_per_anchor: int = 5
    neg_per_anchor: int = 20
    negatives: str = 'in_batch'
    epochs: int = 200
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    device: str = 'cpu'

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> 'NodeConfig':
        def choice(name, options):
            if getattr(self, name) not in options:
                raise ConfigError(f"config '{name}' must be one of {options}, "
                                  f"got {getattr(self, name)!r}")

        def integer(name, lo):
            check_integer(getattr(self, name), name, lo)

        def number(name, lo, hi=None, lo_open=False):
            check_number(getattr(self, name), name, lo, hi, lo_open)

        def boolean(name):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"config '{name}' must be true or false, "
                                  f"got {getattr(self, name)!r}")

        choice('encoder', ENCODERS)
        choice('loss', LOSSES)
        choice('metric', METRICS)
        choice('batch_mode', BATCH_MODES)
        choice('graph_batching', GRAPH_BATCHING)
        choice('knn_method', KNN_METHODS)
        choice('feature_norm', FEATURE_NORMS)
        choice('graph_part', GRAPH_PARTS)
        choice('negatives', NEGATIVES)
        choice('feature_mask_form', FEATURE_MASK_FORMS)
        choice('view_smoothing', VIEW_SMOOTHINGS)
        if (not isinstance(self.num_neighbors, (list, tuple)) or not self.num_neighbors
                or any(isinstance(v, bool) or not isinstance(v, int) or (v < 1 and v != -1)
                       for v in self.num_neighbors)):
            raise ConfigError("config 'num_neighbors' must be a non-empty list of positive "
                              f"integers (or -1 for all neighbours), got {self.num_neighbors!r}")
        self.num_neighbors = list(self.num_neighbors)
        if self.graph_hops != 'auto':
            integer('graph_hops', 1)
        for name in ('hidden_channels', 'out_channels', 'num_layers', 'k', 'feature_hops',
                     'epochs', 'num_pos', 'num_neg', 'dynamic_every',
                     'all_pairs_max_nodes', 'sign_hops', 'pos_per_anchor', 'neg_per_anchor'):
            integer(name, 1)
        for name in ('projector_channels', 'dynamic_start', 'seed', 'knn_max_dim', 'batch_size',
                     'encoder_input_hops', 'decorrelation_probes'):
            integer(name, 0)
        if self.view_smoothing == 'own' and not self.encoder_input_hops:
            raise ConfigError("config 'view_smoothing: own' sets where the input smoothing "
                              "of 'encoder_input_hops' runs, and 'encoder_input_hops' is 0 "
                              "(nothing is smoothed); set it >= 1 or leave "
                              "'view_smoothing: shared'")
        if self.view_smoothing == 'own' and self.encoder == 'sign':
            raise ConfigError("config 'view_smoothing: own' smooths each view's input over "
                              "its own graph, and SIGN's propagated input is computed once; "
                              "use 'view_smoothing: shared' or another encoder")
        if self.knn_input_hops != 'auto':
            if isinstance(self.knn_input_hops, str):
                raise ConfigError("config 'knn_input_hops' must be an integer >= 0 or 'auto', "
                                  f"got {self.knn_input_hops!r}")
            integer('knn_input_hops', 0)
        if self.neighbor_scaling is not None:
            # imported here: the config module stays torch-free for the CLI's --help
            from ..structure.hubness import NEIGHBOR_SCALINGS
            if self.neighbor_scaling not in NEIGHBOR_SCALINGS:
                raise ConfigError(f"config 'neighbor_scaling' must be null or one of "
                                  f"{list(NEIGHBOR_SCALINGS)}, got {self.neighbor_scaling!r}")
        for name in ('dropout', 'feature_mask', 'edge_drop'):
            number(name, 0.0, 0.99)
        for name in ('nu_input', 'nu_latent', 'lr'):
            number(name, 0.0, lo_open=True)
        for name in ('alpha', 'weight_decay', 'view_weight', 'latent_radius',
                     'decorrelation_weight'):
            number(name, 0.0)
        number('dynamic_weight', 0.0, 1.0)
        number('memory_budget_mb', 0.0)
        if self.graph_pairs_per_row != 'auto':
            if isinstance(self.graph_pairs_per_row, str):
                raise ConfigError("config 'graph_pairs_per_row' must be an integer >= 0 or "
                                  f"'auto', got {self.graph_pairs_per_row!r}")
            integer('graph_pairs_per_row', 0)
        for name in ('use_features', 'use_graph', 'dynamic', 'views', 'shared_negatives',
                     'input_skip'):
            boolean(name)
        check_number_or_auto(self.lam, 'lam', 0.0, 1.0)
        integer('input_skip_rank', 0)
        if self.input_skip_rank and not self.input_skip:
            raise ConfigError(f"config 'input_skip_rank: {self.input_skip_rank}' needs "
                              "'input_skip: true' (it sets the rank of the skip path)")
        if self.input_skip and self.encoder not in SKIP_ENCODERS + ('auto',):
            raise ConfigError(f"config 'input_skip: true' needs encoder 'gcn' or 'gat' (or "
                              f"'auto' where it resolves to one), got {self.encoder!r}")
        if not (self.use_features or self.use_graph):
            raise ConfigError("config 'use_features' and 'use_graph' cannot both be false")
        if self.dynamic and not self.use_features:
            # Dynamic P recomputes P's feature part from the representation; without a
            # feature part every refresh would rebuild the same static P and change nothing.
            raise ConfigError("config 'dynamic: true' needs 'use_features: true' (dynamic P "
                              "recomputes P's feature part, which 'use_features: false' "
                              "leaves out)")
        if not isinstance(self.device, str) or not _DEVICE.match(self.device):
            raise ConfigError(f"config 'device' must be 'cpu', 'cuda' or 'cuda:<index>', "
                              f"got {self.device!r}")
        check_repulsion(self.repulsion, self.loss, self.latent_radius,
                        decorrelation_weight=self.decorrelation_weight)
        if self.decorrelation_probes and self.repulsion != 'student_t+decorrelation':
            raise ConfigError("config 'decorrelation_probes' estimates the correlation term "
                              "of 'repulsion: student_t+decorrelation'; with repulsion "
                              f"{self.repulsion!r} it would do nothing (set it to 0)")
        if self.decorrelation_input not in DECORRELATION_INPUTS:
            raise ConfigError(f"config 'decorrelation_input' must be one of "
                              f"{list(DECORRELATION_INPUTS)}, got {self.decorrelation_input!r}")
        if self.decorrelation_input == 'h' and self.repulsion != 'student_t+decorrelation':
            # 'decorrelation' measures the covariance against (r^2/D) I: a scale only the
            # sphere's points have, so it cannot read h.
            raise ConfigError("config 'decorrelation_input: h' moves the correlation term of "
                              "'repulsion: student_t+decorrelation' onto h; with repulsion "
                              f"{self.repulsion!r} there is no such term (set it to 'z')")
        if self.block_precision not in BLOCK_PRECISIONS:
            raise ConfigError(f"config 'block_precision' must be one of "
                              f"{list(BLOCK_PRECISIONS)}, got {self.block_precision!r}")
        if self.block_precision == 'bfloat16' and not self.shared_negatives:
            raise ConfigError(f"config 'block_precision: {self.block_precision}' sets the "
                              "precision of the shared-negatives block; without "
                              "'shared_negatives: true' there is no block (set it to "
                              "'float32')")
        if self.batch_mode == 'sampled' and self.loss in ('kl', 'infonce'):
            raise ConfigError(f"config 'loss: {self.loss}' needs whole rows; use "
                              "'batch_mode: all' (the sampled estimator is for elementwise "
                              "losses)")
        return self

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Optional[Dict[str, Any]], base: Optional['NodeConfig'] = None
                  ) -> 'NodeConfig':
        """Overrides ``base`` (default: the defaults) with ``values``; unknown keys fail."""
        values = checked_keys(values, cls, 'config key',
                              f"; `genurl-pyg config --dataset NAME` lists all "
                              f"{len(fields(cls))} keys")
        merged = (base or cls()).to_dict()
        merged.update(values)
        return cls(**merged)

    @classmethod
    def from_yaml(cls, path: Union[str, Path], base: Optional['NodeConfig'] = None
                  ) -> 'NodeConfig':
        from ..utils.yamlio import load_mapping
        values = load_mapping(path, ConfigError)
        return cls.from_dict(values, base)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def resolved_graph_hops(cfg: NodeConfig, featureless: bool = False) -> int:
    """``cfg.graph_hops`` with ``'auto'`` resolved: 1 on a graph without node features (P is
    the graph alone), else 2."""
    if cfg.graph_hops != 'auto':
        return int(cfg.graph_hops)
    return 1 if featureless else 2


def resolved_graph_part(cfg: NodeConfig, featureless: bool = False,
                        mean_degree: float = 0.0) -> str:
    """``cfg.graph_part`` with ``'auto'`` resolved: random-walk visits on a graph without
    node features whose mean degree is below the walk part's row size (50), geodesics
    otherwise. Where one hop already holds more neighbours than a walk row keeps (ogbl-ddi:
    about 500), the walk rows drop most of them: validation Hits@20 fell from 6.2 to 2.7 %
    there, while on Cora (degree 3.9) walks raised AUC from 81.8 to 83.3."""
    if cfg.graph_part != 'auto':
        return cfg.graph_part
    from ..structure.walks import DEFAULT_TOP_K
    return 'walks' if featureless and mean_degree < DEFAULT_TOP_K else 'geodesic'


#: knn_input_hops 'auto': the hops of the smoothed kNN input where it applies.
AUTO_KNN_INPUT_HOPS = 2
APPROXIMATE_KNN = ('faiss', 'pynndescent')


def resolved_knn_input_hops(cfg: NodeConfig, knn_method: str, trust: Optional[float],
                            graph_in_p: bool) -> int:
    r"""``cfg.knn_input_hops`` with ``'auto'`` resolved: :data:`AUTO_KNN_INPUT_HOPS` where P
    has both parts, the resolved ``knn_method`` is approximate (faiss HNSW or NN-descent:
    ``auto`` beyond 100k nodes) and the graph–feature agreement ``trust`` is at least
    :data:`~genurl_pyg.structure.trust.LOW_TRUST`; 0 (the paper's raw features) otherwise.

    Why: on high-dimensional features the approximate search finds few of the true
    neighbours (faiss HNSW: recall 0.43 at 200k nodes of the scale benchmark's graphs), while
    on :math:`\hat A^2 X`, whose rows the graph has pulled towards their communities, it
    finds 0.98 of them in 40 % of the time, and 99 % of them share the query's community
    instead of 13 % (``experiments/results/knn_benchmark_smooth.md``). Where the graph joins
    unlike nodes (low agreement) smoothing along it would blur the features the kNN part is
    there to add, so they stay raw; and where the search is exact, raw X keeps the paper's P
    (the smoothed input did not change validation accuracy on Cora or CiteSeer:
    ``experiments/results/node_study.md``, section 5)."""
    if cfg.knn_input_hops != 'auto':
        return int(cfg.knn_input_hops)
    from ..structure.trust import LOW_TRUST
    if not knn_input_hops_reads_trust(cfg, knn_method, graph_in_p):
        return 0
    return AUTO_KNN_INPUT_HOPS if trust is not None and trust >= LOW_TRUST else 0


def knn_input_hops_reads_trust(cfg: NodeConfig, knn_method: str, graph_in_p: bool) -> bool:
    """Whether :func:`resolved_knn_input_hops` depends on the graph–feature agreement:
    ``'auto'``, P with both parts, and an approximate ``knn_method``."""
    return (cfg.knn_input_hops == 'auto' and cfg.use_features and graph_in_p
            and knn_method in APPROXIMATE_KNN)


def dataset_defaults(dataset: str) -> NodeConfig:
    """The versioned per-data-set defaults shipped in ``genurl_pyg/configs/<name>.yaml``."""
    path = Path(__file__).resolve().parents[1] / 'configs' / f'{dataset.lower()}.yaml'
    if not path.is_file():
        return NodeConfig()
    return NodeConfig.from_yaml(path)
