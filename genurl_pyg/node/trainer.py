"""Training GenURL node embeddings on one graph (the library's main job)."""
from __future__ import annotations

import dataclasses
import math
import random
import time
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.nn import MLP

from .._validation import all_finite
from ..nn.losses.genurl_loss import GenURLLoss
from ..nn.models.channel_projector import ChannelProjector
from ..nn.models.genurl import GenURL
from ..nn.models.node_embedding import NodeEmbedding
from ..nn.models.sphere_projection import SphereProjection
from ..structure.builder import SimilarityBuilder
from ..structure.knn import resolve_method as resolve_knn_method
from ..structure.similarity import Similarity, combine
from ..structure.trust import (LOW_INFORMATION, LOW_TRUST, graph_feature_agreement,
                               graph_feature_information, graph_is_noise,
                               lambda_from_agreement, triangle_closure_ratio)
from ..nn import functional as LF
from ..nn.decorrelation import correlation_loss, decorrelation_loss
from ..nn.sampling import anchor_batches, sample_anchor_pairs, sample_two_view_pairs
from .. import distributed
from ..distributed import rank_generator
from ..utils.devices import native_bfloat16, resolve_device
from .config import (AUTO_NEIGHBOR_MIN_NODES, AUTO_SIGN_MIN_NODES, SKIP_ENCODERS,
                     ConfigError, NodeConfig,
                     knn_input_hops_reads_trust, resolved_graph_hops, resolved_graph_part,
                     resolved_knn_input_hops)
from .neighbor import NeighborSubgraphs, neighbor_sampling_available, require_neighbor_sampling
from .inputs import as_csr, csr_adjacency, csr_if_sparse, is_sparse_rows, normalize_rows
from .plan import plan_memory
from .propagation import normalized_adjacency, propagate_features, smooth_features
from .deferred_smoothing import (SmoothedInputLinear, deferral_pays, defer_input_smoothing,
                                 smoothed_nnz)
from .encoders import (GRAPH_ENCODERS, build_encoder,
                       warn_about_graph)
from .views import augment, disjoint_union, two_view_similarity

DEFAULT_BATCH_SIZE = 1024
# encoder 'auto' on a graph without features: a GCN over learnable node vectors. On
# validation edges it beat the bare table on Cora (AUC 0.818 vs 0.787 at its best hops) and
# ogbl-ddi (Hits@20 6.2 vs 3.3 %): experiments/results/featureless_{cora,ddi}.md
AUTO_FEATURELESS_ENCODER = 'gcn'


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass
class TrainState:
    """What a checkpoint holds, so an interrupted run resumes where it stopped."""
    epoch: int = 0
    losses: List[float] = field(default_factory=list)
    seconds: float = 0.0  # spent on this seed by earlier processes (restored on resume)


CHECKPOINT_KEYS = ('model', 'optimizer', 'epoch', 'losses', 'config', 'rng', 'shared_rng',
                   'torch_rng', 'sim', 'seconds')


def resolve_path(encoder: str, graph_batching: str, num_nodes: int,
                 trust: Optional[float] = None, use_graph: bool = True,
                 graph_noise: bool = False, featureless: bool = False) -> Tuple[str, str]:
    r"""``(encoder, path)`` for a graph of ``num_nodes`` nodes. Paths: ``'full'`` (whole-graph
    message passing), ``'neighbor'`` (message passing on NeighborLoader subgraphs) and
    ``'decoupled'`` (an MLP on precomputed :math:`\hat A^k X`, PyG's SIGN).

    ``encoder: 'auto'``: SIGN beyond :data:`AUTO_SIGN_MIN_NODES` nodes (its MLP reads the
    node's own features as a separate block, so it needs no trust check); below, GCN when
    the graph–feature agreement ``trust`` (:func:`~genurl_pyg.structure.trust.
    graph_feature_agreement`) is at least :data:`~genurl_pyg.structure.trust.LOW_TRUST`
    or unknown, and :class:`~genurl_pyg.nn.models.EgoGCN` (an MLP channel beside a GCN
    channel, one loss each) when it is lower. With ``use_graph=False`` (P without the
    graph), or where the edges look like a random graph (``graph_noise``, :func:`~genurl_pyg.
    structure.trust.graph_is_noise`), ``auto`` is the MLP at any size."""
    if featureless and encoder in ('sign', 'ego-gcn'):
        raise ConfigError(f"encoder {encoder!r} needs node features and this graph has none; "
                          "use 'embedding' (one vector per node), 'gcn', 'sage' or 'gat' "
                          "(message passing over learnable node vectors), or 'auto'")
    if encoder == 'auto' and featureless:
        encoder = AUTO_FEATURELESS_ENCODER
    if encoder == 'auto':
        if not use_graph or graph_noise:
            encoder = 'mlp'
        elif num_nodes > AUTO_SIGN_MIN_NODES:
            encoder = 'sign'
        else:
            low = trust is not None and trust < LOW_TRUST  # nan (cannot tell): False
            encoder = 'ego-gcn' if low else 'gcn'
    if encoder == 'sign':
        return encoder, 'decoupled'
    if encoder in ('mlp', 'embedding') or graph_batching == 'full':
        return encoder, 'full'
    if graph_batching == 'neighbor':
        require_neighbor_sampling()
        return encoder, 'neighbor'
    big = num_nodes > AUTO_NEIGHBOR_MIN_NODES
    return encoder, 'neighbor' if big and neighbor_sampling_available() else 'full'


# Encoders whose first op on the input is a Linear layer, which reads CSR rows as it reads
# dense ones (the input may stay sparse up to it).
LINEAR_FIRST_ENCODERS = ('gcn', 'mlp', 'sage', 'ego-gcn')

class NodeEmbeddingTrainer:
    """Builds P, the model and the optimiser for one graph and runs the epochs.

    Full-graph path, per epoch: two augmented views through the encoder
    (O(E·d + N·D·d)), then the GenURL loss over all pairs of the ``2N`` stacked nodes
    (O(N^2 d), small graphs) or the unbiased sampled estimate (O((s + m) d)).
    Mini-batch paths (decoupled SIGN, NeighborLoader subgraphs), per epoch: every anchor once,
    in batches of B, each step O(B (r + m) d) for the MLP, times the sampled subgraph's size
    for message passing; memory O(N k + model) overall. Building P is done once (static) or
    every ``dynamic_every`` epochs from the current representation (dynamic).

    Under ``torchrun`` the model is wrapped in ``DistributedDataParallel``: mini-batch epochs
    are split between the ranks (each takes every W-th anchor batch); full-graph epochs let
    every rank draw its own views and pairs, and DDP averages the gradients.
    """

    def __init__(self, data: Data, config: NodeConfig,
                 progress: Optional[Callable[[int, float], None]] = None) -> None:
        self._started = time.perf_counter()
        _check_data(data)
        self.cfg = config.validate()
        self.dist = distributed.context(config.device)
        self.device = resolve_device(str(self.dist.device(config.device)))
        #: the shared-negatives block's product precision, 'auto' resolved for this device
        self.block_precision = config.block_precision
        if self.block_precision == 'auto':
            self.block_precision = ('bfloat16' if native_bfloat16(self.device)
                                    else 'float32')
        self.generator = seed_everything(config.seed)  # same model init on every rank
        # Epoch-level draws (anchor order) are shared by the ranks so that they split one
        # permutation; per-step draws (views, pairs) differ between ranks.
        self.shared_generator = self.generator
        if self.dist.enabled:
            self.shared_generator = torch.Generator().manual_seed(config.seed)
            self.generator = rank_generator(config.seed, self.dist.rank)
        self.num_nodes = data.num_nodes
        # A graph without features (no x, or one-hot ids as x) trains one learnable vector
        # per node (NodeEmbedding): its input is the node ids, P comes from the graph alone
        # (one-hot rows are all equally far apart: no kNN to search, no columns to mask).
        self.featureless = is_featureless(data)
        if self.featureless:
            if not config.use_graph:
                raise ConfigError('this graph has no node features, so P must come from the '
                                  "graph: 'use_graph' cannot be false")
            if config.dynamic:
                raise ConfigError("config 'dynamic: true' rebuilds P's feature part, and this "
                                  'graph has no node features (P is the graph alone); set '
                                  "'dynamic: false'")
            self.cfg = config = dataclasses.replace(self.cfg, use_features=False)
            self.x = torch.arange(self.num_nodes, device=self.device)
        else:
            self.x = data.x.float().to(self.device)
        mean_degree = data.edge_index.size(1) / max(1, self.num_nodes)
        self.cfg = config = dataclasses.replace(
            config, graph_hops=resolved_graph_hops(config, self.featureless),
            graph_part=resolved_graph_part(config, self.featureless, mean_degree))
        self.edge_index = data.edge_index.to(self.device)
        self._adj: Optional[Tensor] = None  # A_hat during set-up (_training_adjacency)
        self.progress = progress
        # How far the edges agree with the features (no labels): steers encoder 'auto'
        # and warns about GCN-style averaging over a graph that joins unlike nodes.
        self.graph_trust = self._graph_trust()
        # ... how much they tell about the features at all (either sign), and whether the
        # graph has a shape of its own: where both say "random edges", message passing
        # and P's graph part only mix in noise, and the 'auto' settings leave them out.
        self.graph_information = self._graph_information()
        self.graph_closure = self._graph_closure()
        self.graph_noise = graph_is_noise(self.graph_information, self.graph_closure)
        self.encoder_name, self.path = resolve_path(config.encoder, config.graph_batching,
                                                    self.num_nodes, self.graph_trust,
                                                    config.use_graph, self.graph_noise,
                                                    self.featureless)
        if self.reads_ids and config.encoder_input_hops:
            raise ConfigError("config 'encoder_input_hops' smooths the encoder's input "
                              'features, and this encoder reads node ids ('
                              + ('the graph has no node features' if self.featureless
                                 else "encoder 'embedding'") + "); set it to 0")
        if config.repulsion != 'student_t' and self._minibatch_path():
            # A mini-batch's rows are anchors, positives and negatives mixed, not a sample
            # of each view: their covariance is not the representation's.
            raise ConfigError(f"config 'repulsion: {config.repulsion}' needs full-graph "
                              f"steps, and this run takes mini-batches (path {self.path!r}); "
                              "use 'repulsion: student_t' or a full-graph encoder")
        if config.view_smoothing == 'own' and self.encoder_name == 'sign':
            raise ConfigError("config 'view_smoothing: own' smooths each view's input over "
                              "its own graph, and encoder 'auto' resolved to SIGN here, whose "
                              "propagated input is computed once; name another encoder or "
                              "use 'view_smoothing: shared'")
        if config.views and self._minibatch_path() and (
                config.view_smoothing == 'own'
                or (config.feature_mask_form == 'entries' and self.path == 'decoupled')):
            # The mini-batch paths read precomputed input rows (and the decoupled one masks
            # them with one column mask per view): there is no view graph to smooth over.
            setting = ("'view_smoothing: own'" if config.view_smoothing == 'own'
                       else "'feature_mask_form: entries'")
            raise ConfigError(f"config {setting} needs full-graph steps, and this run takes "
                              f"mini-batches (path {self.path!r}); use the default "
                              "('view_smoothing: shared', 'feature_mask_form: columns') or a "
                              "full-graph encoder")
        warn_about_graph(self.encoder_name, self.graph_trust, self.graph_information,
                         self.graph_closure)
        # lam: auto puts weight clip(trust, 0, 1), about 0, on such a graph; leaving it out
        # makes the run exactly the features-only one instead of a noisier copy of it.
        graph_in_p = config.use_graph and not (config.lam == 'auto' and self.graph_noise
                                               and config.use_features)
        knn_method = resolve_knn_method(config.knn_method, self.num_nodes,
                                        self.x.is_cuda and not self.featureless)
        self.cfg = config = dataclasses.replace(config, knn_input_hops=resolved_knn_input_hops(
            config, knn_method, self._knn_input_trust(config, knn_method, graph_in_p),
            graph_in_p))
        # Plan memory from O(E) statistics before anything large is allocated; it fixes
        # what 'auto' leaves open and stops here, naming the knobs, if nothing fits.
        self.plan = plan_memory(self.num_nodes, self.edge_index, self._input_width(), config,
                                self.encoder_name, self._minibatch_path(), knn_method)
        cap = self.plan.settings.get('graph_pairs_per_row', config.graph_pairs_per_row)
        lam = config.lam
        if lam == 'auto' and self.graph_trust is not None:
            # The builder would measure the same agreement again (same x, metric, sample
            # and seed). On smoothed kNN input (knn_input_hops) it would measure the
            # smoothed rows' agreement, near 1 by construction (Cora 0.995, Photo 0.947 on
            # A_hat^2 X), and give the feature part almost no weight: the trust of the
            # graph in the raw features is what lambda stands for.
            lam = lambda_from_agreement(self.graph_trust)
        self.builder = SimilarityBuilder(
            k=min(config.k, self.num_nodes - 1), metric=config.metric,
            feature_hops=config.feature_hops, graph_hops=config.graph_hops, lam=lam,
            nu=config.nu_input, reduce_dim=config.knn_max_dim or None,
            knn_method=config.knn_method,
            max_pairs_per_row=self.plan.settings.get('feature_pairs_per_row'),
            use_features=config.use_features, use_graph=graph_in_p,
            graph_pairs_per_row=cap if isinstance(cap, int) and cap > 0 else None,
            seed=config.seed, graph_part=config.graph_part,
            neighbor_scaling=config.neighbor_scaling)
        # P's feature part may be searched on graph-smoothed features (knn_input_hops):
        # neighbours in A_hat^h X agree with the graph's classes more often than in raw X.
        if self.featureless:  # P from the graph alone: the builder takes no features
            x_p = None
        elif config.use_features:
            x_p = smooth_features(self.x, self.edge_index, config.knn_input_hops,
                                  adj=self._training_adjacency() if config.knn_input_hops
                                  else None)
        else:
            x_p = self.x
        self.static_sim = self.builder.build(x_p, self.edge_index, self.num_nodes)
        # A_hat^h X W = A_hat^h (X W): on sparse rows the smoothing is cheaper after the
        # first weight matrix than before it (deferred_smoothing); same function. Decided
        # from sparsity patterns, before any dense A_hat^h X exists.
        self.input_smoothing = self._deferred_smoothing()
        self.x_enc = x_enc_dense = self._encoder_input(
            self.x, self.edge_index, smooth=self.input_smoothing is None)
        self.x_enc = self._layer_input(self.x_enc)
        # view_smoothing 'own': the views augment the unsmoothed input and smooth it over
        # their own graph. Deferred smoothing already stores it unsmoothed (x_enc); else
        # one dense unsmoothed copy is kept beside the smoothed one, O(N D).
        self._view_base = None
        if config.views and config.view_smoothing == 'own':
            base = self.x_enc if self.input_smoothing is not None else \
                self._encoder_input(self.x, self.edge_index, smooth=False)
            self._view_base = base.to_dense() if is_sparse_rows(base) else base
        self._use_similarity(self.static_sim)
        # The unaugmented graph never changes: build its CSR adjacency once, not per epoch.
        self.graph = self._graph(self.edge_index)
        self.subgraphs = None
        if self.path == 'neighbor':
            # The sampled subgraphs carry the encoder's input (row-normalised, smoothed),
            # sliced from its dense form: the full path's CSR copy cannot be indexed by row.
            self.subgraphs = NeighborSubgraphs(x_enc_dense.cpu(), self.edge_index.cpu(),
                                               self.num_nodes, config.num_neighbors)
        self.batch_size = self._resolve_batch_size()
        encoder = self._build_encoder()
        if self.input_smoothing is not None:
            defer_input_smoothing(encoder, self.input_smoothing, config.encoder_input_hops)
        projector = None
        if getattr(encoder, 'channels', None):  # one projector and one loss per channel
            projector = ChannelProjector(encoder.channels, config.projector_channels)
        elif config.projector_channels > 0:
            projector = MLP([config.out_channels, config.out_channels,
                             config.projector_channels], norm=None, act='prelu')
        if config.latent_radius > 0:  # Q on a sphere: the kernel sees a fixed scale
            projector = SphereProjection(config.latent_radius, projector)
        # repulsion 'decorrelation': GKL's attraction only (alpha 0 removes every p = 0 term),
        # the covariance term in step() keeps the points spread instead.
        alpha = 0.0 if config.repulsion == 'decorrelation' else config.alpha
        self.model = GenURL(encoder, projector,
                            GenURLLoss(config.loss, config.nu_latent, alpha)).to(self.device)
        self.net = distributed.wrap_ddp(self.model, self.dist, self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr,
                                          weight_decay=config.weight_decay)
        self.state = TrainState()
        self._adj = None  # set-up's A_hat: the deferred smoothing keeps its own reference

    @property
    def reads_ids(self) -> bool:
        """Whether the encoder's input is the node ids (a NodeEmbedding table)."""
        return self.featureless or self.encoder_name == 'embedding'

    def _encoder_input(self, x: Tensor, edge_index: Tensor, smooth: bool = True) -> Tensor:
        r"""What the encoder reads for the nodes of ``x`` on ``edge_index``: their ids for a
        table (whatever the features are), else the features, row-normalised with
        ``feature_norm: row``, smoothed to :math:`\hat A^h X` with ``encoder_input_hops: h``
        (unless ``smooth`` is False: the encoder's first layer smooths, see
        :attr:`input_smoothing`) and propagated for SIGN (all dense: the caller stores
        sparse rows as CSR)."""
        if self.reads_ids:
            return torch.arange(x.size(0), device=self.device)
        if is_sparse_rows(x) and not self._reads_sparse_input(smooth):
            x = x.to_dense()  # smoothing, SIGN or a non-Linear first op read dense rows
        x_enc = normalize_rows(x) if self.cfg.feature_norm == 'row' else x
        if self.cfg.encoder_input_hops and smooth:
            # the training graph's A_hat when set-up already built it (else built here)
            adj = self._adj if edge_index is self.edge_index else None
            x_enc = smooth_features(x_enc, edge_index, self.cfg.encoder_input_hops, adj=adj)
        if self.encoder_name == 'sign':
            x_enc = propagate_features(x_enc, edge_index, self.cfg.sign_hops)
        return x_enc

    def _reads_sparse_input(self, smooth: bool) -> bool:
        """Whether features stored sparse can stay so up to the encoder: its first op is a
        Linear (which reads CSR) and nothing before it (smoothing the input, SIGN's
        propagation) needs them dense."""
        return (self.encoder_name in LINEAR_FIRST_ENCODERS
                and not (self.cfg.encoder_input_hops and smooth))

    def _layer_input(self, x_enc: Tensor) -> Tensor:
        """The encoder input in the layout its first op reads fastest: CSR when that op is
        a Linear and the rows are sparse (bag-of-words; O(nnz d) instead of O(N D d)),
        else as is. The input's own density decides (row normalisation keeps the zeros of
        x; smoothing with encoder_input_hops fills them in)."""
        if self.reads_ids or self.encoder_name not in LINEAR_FIRST_ENCODERS:
            return x_enc
        return csr_if_sparse(x_enc)

    def _deferred_smoothing(self) -> Optional[Tensor]:
        """The normalised adjacency when the encoder's first layer should smooth its
        output instead of reading the smoothed input (:mod:`.deferred_smoothing`): GCN or
        MLP on full-graph steps, sparse rows, and fewer multiply-adds that way; else None.
        O(E log E) for the adjacency plus :func:`smoothed_nnz`'s pattern products (row
        normalisation keeps the zeros, so the raw features' pattern is the input's)."""
        hops = self.cfg.encoder_input_hops
        if (not hops or self.reads_ids or self.minibatch
                or self.encoder_name not in ('gcn', 'mlp')):
            return None
        input_nnz = int((self.x != 0).sum())
        if input_nnz == self.x.numel():  # dense rows: smoothing cannot fill anything in
            return None
        adj = self._training_adjacency()
        if not deferral_pays(input_nnz, smoothed_nnz(self.x, adj, hops),
                             adj.values().numel(), hops):
            return None
        return adj.to(self.device)

    def _training_adjacency(self) -> Tensor:
        """:math:`\\hat A` of the training graph, built once while the trainer is set up:
        P's smoothed features, the deferral decision and the encoder's input smoothing all
        read it (O(E log E) each time otherwise). Released when set-up ends."""
        if self._adj is None:
            self._adj = normalized_adjacency(self.edge_index, self.num_nodes)
        return self._adj

    def _input_width(self) -> int:
        return 1 if self.featureless else self.x.size(1)

    def _build_encoder(self) -> torch.nn.Module:
        """The named encoder; on node ids, a NodeEmbedding table (of the output width for
        ``'embedding'``, else of the hidden width with the named GNN over its vectors)."""
        cfg = self.cfg
        if cfg.input_skip and self.encoder_name not in SKIP_ENCODERS:
            raise ConfigError(f"config 'input_skip: true' needs a GCN or GAT encoder; encoder "
                             f"{cfg.encoder!r} resolved to {self.encoder_name!r} for this "
                             "graph (set 'encoder: gcn', or 'input_skip: false')")
        if self.encoder_name == 'embedding':
            return NodeEmbedding(self.num_nodes, cfg.out_channels)
        if self.reads_ids:
            gnn = build_encoder(self.encoder_name, cfg.hidden_channels, cfg.hidden_channels,
                                cfg.out_channels, cfg.num_layers, cfg.dropout,
                                cfg.input_skip, cfg.input_skip_rank)
            return NodeEmbedding(self.num_nodes, cfg.hidden_channels, gnn)
        return build_encoder('mlp' if self.encoder_name == 'sign' else self.encoder_name,
                             self.x_enc.size(1), cfg.hidden_channels, cfg.out_channels,
                             cfg.num_layers, cfg.dropout, cfg.input_skip,
                             cfg.input_skip_rank)

    def _reads_graph_statistics(self) -> bool:
        """Whether a decision reads the graph statistics: an ``auto`` encoder or λ, or a
        message-passing encoder (the warnings). Never without features: there is nothing
        for the edges to agree with."""
        cfg = self.cfg
        return not self.featureless and cfg.use_graph and (
            cfg.encoder == 'auto' or cfg.encoder in GRAPH_ENCODERS or cfg.lam == 'auto')

    def _graph_trust(self) -> Optional[float]:
        """The graph–feature agreement, when a decision reads it: O(s·D). Its pair
        sample has a fixed seed: the agreement is a property of the data set, and the
        encoder ``auto`` picks must not change with the training seed."""
        if not self._reads_graph_statistics():
            return None
        return self._measure_trust()

    def _measure_trust(self) -> float:
        """The agreement itself (0 for a graph without edges). O(s·D)."""
        if self.edge_index.size(1) == 0:
            return 0.0
        return graph_feature_agreement(self.x, self.edge_index, metric=self.cfg.metric, seed=0)

    def _knn_input_trust(self, config: NodeConfig, knn_method: str,
                         graph_in_p: bool) -> Optional[float]:
        """The agreement that ``knn_input_hops: 'auto'`` reads: the measured one, or, where
        no other decision read it, measured now when the answer depends on it."""
        if self.graph_trust is not None or not knn_input_hops_reads_trust(
                config, knn_method, graph_in_p):
            return self.graph_trust
        return self._measure_trust()

    def _graph_information(self) -> Optional[float]:
        """The edges' feature information where the trust was measured and is defined (nan:
        features without geometry, e.g. one-hot ids, say nothing here either).
        O(r·D·q + s·D·q), fixed seed, global random state untouched."""
        trust = self.graph_trust
        if trust is None or math.isnan(trust):
            return None
        if self.edge_index.size(1) == 0:
            return 0.0
        return graph_feature_information(self.x, self.edge_index, seed=0)

    def _graph_closure(self) -> Optional[float]:
        """Triangle closure against random edges, only where the information is low (it
        decides nothing elsewhere): O(E log E)."""
        info = self.graph_information
        if info is None or not info < LOW_INFORMATION:
            return None
        return triangle_closure_ratio(self.edge_index, self.num_nodes, seed=0)

    def _resolve_batch_size(self) -> int:
        if not self.minibatch:
            return 0
        anchors = self.num_anchors
        size = self.cfg.batch_size or min(DEFAULT_BATCH_SIZE, anchors)
        if size > anchors:
            raise ConfigError(f"config 'batch_size' ({size}) is larger than the {anchors} "
                              f"anchors of this graph ({self.num_nodes} nodes"
                              f"{', two views each' if self.cfg.views else ''}); use at most "
                              f"{anchors}, or 0 for automatic")
        if self.dist.world_size > -(-anchors // size):
            raise ConfigError(f"config 'batch_size' ({size}) leaves fewer anchor batches "
                              f"than the {self.dist.world_size} processes; lower it")
        return size

    @property
    def minibatch(self) -> bool:
        """True for the anchor-batch paths (decoupled beyond all-pairs size, neighbour)."""
        return self._minibatch_path()

    def _minibatch_path(self) -> bool:
        if self.path == 'neighbor':
            return True
        return self.path == 'decoupled' and not self._use_all_pairs()

    @property
    def num_anchors(self) -> int:
        """Nodes of the training similarity: N, or 2N with two views (stacked)."""
        return self.num_nodes * (2 if self.cfg.views else 1)

    # -- similarity -------------------------------------------------------------------------
    def _use_similarity(self, sim: Similarity) -> None:
        """Makes ``sim`` the current P (initial, dynamic refresh, resumed checkpoint)."""
        self.sim = sim
        # The mini-batch paths sample the two views' similarity without building it
        # (sample_two_view_pairs): P^(2) would hold 4|P| + 2N entries, the largest array of
        # a large run. Full-graph steps need it materialised.
        self.implicit_views = self.cfg.views and self._minibatch_path()
        self.train_sim = sim if self.implicit_views else self._training_similarity(sim)
        self._rowptr: Optional[Tensor] = None  # the mini-batch sampler's; built on first use

    def _training_similarity(self, sim: Similarity) -> Similarity:
        if self.cfg.views:
            return two_view_similarity(sim, self.cfg.view_weight)
        return sim

    def _maybe_refresh_similarity(self, epoch: int) -> None:
        cfg = self.cfg
        if not cfg.dynamic or epoch < cfg.dynamic_start:
            return
        if (epoch - cfg.dynamic_start) % cfg.dynamic_every != 0:
            return
        h = self.model.embed(self.x_enc, self.graph)
        dynamic = self.builder.rebuild_features(h)
        # Mix static and dynamic P: the target moves with the encoder but keeps its anchor.
        index, weight = combine((self.static_sim.index, self.static_sim.weight),
                                (dynamic.index, dynamic.weight), cfg.dynamic_weight,
                                self.num_nodes)
        self._use_similarity(Similarity(index, weight, self.num_nodes, self.static_sim.lam,
                                        {'dynamic_epoch': epoch}))

    @property
    def _edge_drop(self) -> float:
        # An MLP (or a bare table) never reads the edges: dropping them would only spend
        # random draws, and make its training depend on a graph it ignores.
        return 0.0 if self.encoder_name in ('mlp', 'embedding') else self.cfg.edge_drop

    @property
    def _feature_mask(self) -> float:
        # Node ids (a table's input) have no feature columns to mask.
        return 0.0 if self.reads_ids else self.cfg.feature_mask

    def _graph(self, edge_index: Tensor, num_nodes: Optional[int] = None):
        """GCN/SAGE get the transposed CSR adjacency (:func:`~.inputs.csr_adjacency`)."""
        if self.encoder_name not in ('gcn', 'sage', 'ego-gcn'):
            return edge_index
        return csr_adjacency(edge_index, self.num_nodes if num_nodes is None else num_nodes)

    # -- training ---------------------------------------------------------------------------
    def _use_all_pairs(self) -> bool:
        mode = self.cfg.batch_mode
        if mode == 'auto':
            return self.num_anchors <= self.cfg.all_pairs_max_nodes \
                or self.cfg.loss in ('kl', 'infonce')
        return mode == 'all'

    def run_epoch(self) -> float:
        """One epoch: one full-graph step, or one pass over all anchors in mini-batches.
        Returns the (mean) training loss."""
        if not self.minibatch:
            return self.step()
        batches = list(anchor_batches(self.num_anchors, self.batch_size,
                                      self.shared_generator))
        if self.dist.enabled:  # equal step counts on every rank, or DDP would wait forever
            world = self.dist.world_size
            batches = batches[self.dist.rank:len(batches) // world * world:world]
        if self._rowptr is None:
            self._rowptr = self.train_sim.rowptr()
        losses = [self._minibatch_step(anchors) for anchors in batches]
        return float(np.mean(losses))

    def step(self) -> float:
        """One full-graph step (both views through the encoder, then the loss)."""
        cfg = self.cfg
        self.model.train()
        self.optimizer.zero_grad()
        if cfg.views:
            n = self.num_nodes
            views = self._augmented_views()
            if self.dist.enabled:  # DDP takes one forward per backward: views as one graph
                x, ei = disjoint_union(views, n)
                # own smoothing: the union's A_hat is block-diagonal, each view's own
                with (self._input_smoothing_over(ei, 2 * n) if self._views_smooth_in_layer
                      else nullcontext()):
                    h, z = self.net(x, self._graph(ei, 2 * n))
            else:
                outs = [self._view_forward(x, ei) for x, ei in views]
                z = torch.cat([out[1] for out in outs])
                # h stacked only when the term reads it: a [2N, D] copy per step otherwise
                h = (torch.cat([out[0] for out in outs])
                     if cfg.decorrelation_input == 'h' else None)
        else:
            h, z = self.net(self.x_enc, self.graph)
        decorrelate = cfg.repulsion == 'decorrelation'
        if self._use_all_pairs():
            loss = self.model.loss(z, self.train_sim)
        else:
            # Without repulsion the negatives' terms are 0: one pair keeps the estimator's
            # form without computing the rest.
            loss = self.model.loss(z, self.train_sim, num_pos=cfg.num_pos,
                                   num_neg=1 if decorrelate else cfg.num_neg,
                                   generator=self.generator,
                                   shared_negatives=cfg.shared_negatives,
                                   block_precision=self.block_precision)
        if cfg.repulsion != 'student_t':
            spread = h if cfg.decorrelation_input == 'h' else z
            loss = loss + cfg.decorrelation_weight * self._decorrelation(spread)
        return self._apply(loss)

    @property
    def _views_smooth_in_layer(self) -> bool:
        """``view_smoothing: own`` with deferred smoothing: each view's own smoothing runs
        in the encoder's first layer (else, with ``own``, on the view's input itself)."""
        return self._view_base is not None and self.input_smoothing is not None

    def _view_forward(self, x: Tensor, edge_index: Tensor) -> Tuple[Tensor, Tensor]:
        """``(h, z)`` of one view from :meth:`_augmented_views`: with ``view_smoothing:
        own`` and deferred smoothing the first layer smooths over the view's own edges."""
        if self._views_smooth_in_layer:
            with self._input_smoothing_over(edge_index, self.num_nodes):
                return self.net(x, self._graph(edge_index))
        return self.net(x, self._graph(edge_index))

    def _augmented_views(self, num_views: int = 2) -> List[Tuple[Tensor, Tensor]]:
        """``num_views`` augmented views ``(encoder input, edge_index)`` of the full graph. With
        ``view_smoothing: 'shared'`` the mask applies to the smoothed input; with
        ``'own'`` to the unsmoothed one, which is then smoothed over the view's own
        edges: here for a dense input, O(h E D) per view, or in the encoder's first
        layer where smoothing is deferred (:meth:`_input_smoothing_over`)."""
        cfg = self.cfg
        base = self.x_enc if self._view_base is None else self._view_base
        views = []
        for _ in range(num_views):
            x, ei = augment(base, self.edge_index, self._feature_mask, self._edge_drop,
                            self.generator, cfg.feature_mask_form)
            if self._view_base is not None and not self._views_smooth_in_layer:
                x = self._layer_input(smooth_features(x, ei, cfg.encoder_input_hops))
            views.append((x, ei))
        return views

    @contextmanager
    def _input_smoothing_over(self, edge_index: Tensor, num_nodes: int) -> Iterator[None]:
        r"""Every layer that reads the input (the first, an input_skip path) smooths over
        ``edge_index``'s :math:`\hat A` for the block. O(E log E) for the adjacency."""
        adj = normalized_adjacency(edge_index, num_nodes)
        with ExitStack() as stack:
            for layer in self.model.modules():
                if isinstance(layer, SmoothedInputLinear):
                    stack.enter_context(layer.smoothing(adj, self.cfg.encoder_input_hops))
            yield

    def _decorrelation(self, z: Tensor) -> Tensor:
        """The spread term on the points Q sees, per view (and per channel of a
        ``[V N, C, d]`` channel projection, summed): the covariance against (r^2/D) I for
        ``repulsion: decorrelation``, the column correlations against I for
        ``'student_t+decorrelation'``. O(V N d^2)."""
        views = 2 if self.cfg.views else 1
        term = (partial(decorrelation_loss, radius=self.cfg.latent_radius, num_views=views)
                if self.cfg.repulsion == 'decorrelation'
                else partial(correlation_loss, num_views=views,
                             probes=self.cfg.decorrelation_probes, generator=self.generator))
        if z.dim() == 3:
            return sum(term(zc) for zc in z.unbind(1))
        return term(z)

    def _apply(self, loss: Tensor) -> float:
        """Stops on a non-finite loss, else back-propagates and takes the optimiser step."""
        if not torch.isfinite(loss):
            raise FloatingPointError(f'loss became {loss.item()} at epoch {self.state.epoch}; '
                                     "lower 'lr' or raise 'nu_latent'")
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def _minibatch_step(self, anchors: Tensor) -> float:
        """One anchor batch: positives from the anchors' rows of P, uniform negatives (by
        default among the batch's other anchors), and only the rows that these pairs touch
        go through the model. O(B (r + m) d) for the decoupled MLP (rows: about B (1 + r)
        with in-batch negatives), whatever N is (times the sampled subgraph for message
        passing)."""
        cfg = self.cfg
        self.model.train()
        self.optimizer.zero_grad()
        # A last batch of one anchor has no other anchor to pair with: uniform partners.
        in_batch = cfg.negatives == 'in_batch' and anchors.numel() > 1
        if self.implicit_views:
            s = sample_two_view_pairs(self.train_sim, anchors, cfg.pos_per_anchor,
                                      cfg.neg_per_anchor, cfg.view_weight, self.generator,
                                      self._rowptr, in_batch_negatives=in_batch)
        else:
            s = sample_anchor_pairs(self.train_sim, anchors, cfg.pos_per_anchor,
                                    cfg.neg_per_anchor, self.generator, self._rowptr,
                                    in_batch_negatives=in_batch)
        uniq, inv = torch.unique(s.nodes(), return_inverse=True)
        if self.path == 'neighbor':
            z = self._subgraph_projections(uniq)
        else:
            z = self._decoupled_projections(uniq)
        a, b = s.pos_i.numel(), s.neg_i.numel()
        i, j, ni, nj = inv.split([a, a, b, b])
        crit = self.model.criterion
        # [n, C, out] from a ChannelProjector: one loss per channel, summed.
        loss = sum(LF.indexed_pairs_loss(zc, i, j, s.pos_p, ni, nj, s.num_support,
                                         s.num_pairs, crit.nu, crit.variant, crit.alpha,
                                         crit.eps, pos_weight=s.pos_weight,
                                         neg_weight=s.neg_weight)
                   for zc in (z.unbind(1) if z.dim() == 3 else [z]))
        return self._apply(loss)

    def _view_masks(self, dim: int) -> Optional[Tensor]:
        """``[2, D]`` column masks, one per view (None without feature masking)."""
        cfg = self.cfg
        if not (cfg.views and self._feature_mask > 0):
            return None
        return torch.rand(2, dim, generator=self.generator) >= self._feature_mask

    def _decoupled_projections(self, uniq: Tensor) -> Tensor:
        n = self.num_nodes
        x = self.x_enc[uniq % n]  # stacked views: node v of view 2 is v + N
        keep = self._view_masks(x.size(1))
        if keep is not None:
            x = x * keep.to(x.device, x.dtype)[uniq // n]
        return self.net(x)[1]

    def _subgraph_projections(self, uniq: Tensor) -> Tensor:
        """Projections of the (node, view) pairs ``uniq`` from their sampled L-hop
        subgraph: both views of the subgraph (each with its own feature mask and dropped
        edges) go through the encoder as one disjoint graph."""
        n, cfg = self.num_nodes, self.cfg
        seeds, pos = torch.unique(uniq % n, return_inverse=True)
        batch = self.subgraphs(seeds)
        x = batch.x.to(self.device)
        ei = batch.edge_index.to(self.device)
        num = batch.num_nodes
        if not cfg.views:
            return self.net(x, self._graph(ei, num))[1][:seeds.numel()][pos]
        views = [augment(x, ei, self._feature_mask, self._edge_drop, self.generator,
                         cfg.feature_mask_form)
                 for _ in range(2)]
        xu, eiu = disjoint_union(views, num)  # one forward (DDP), view v's node i at v*num+i
        z = self.net(xu, self._graph(eiu, 2 * num))[1]
        return z[(uniq // n) * num + pos]

    def fit(self, checkpoint: Optional[Path] = None, checkpoint_every: int = 25) -> Tensor:
        while self.state.epoch < self.cfg.epochs:
            self._maybe_refresh_similarity(self.state.epoch)
            loss = self.run_epoch()
            self.state.epoch += 1
            self.state.losses.append(loss)
            if self.progress is not None:
                self.progress(self.state.epoch, loss)
            if (checkpoint is not None and self.dist.is_main
                    and self.state.epoch % checkpoint_every == 0):
                self.save_checkpoint(checkpoint)
        return self.embed()

    @property
    def elapsed_seconds(self) -> float:
        """Seconds spent on this seed: this process since construction (building P
        included) plus what earlier processes spent before the checkpoint it resumed from."""
        return self.state.seconds + time.perf_counter() - self._started

    def embed(self) -> Tensor:
        """The representation of every node. Full-graph inference also for the neighbour
        path (exact, O(E d) time; what PyG's examples do for layer-wise inference)."""
        h = self.model.embed(self.x_enc, self.graph).cpu()
        if not all_finite(h):
            raise FloatingPointError("the embeddings hold NaN or infinity; lower 'lr' or "
                                     "raise 'nu_latent'")
        return h

    @torch.no_grad()
    def embed_graph(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """The trained encoder applied to another graph (``x`` with this run's input
        preprocessing: row normalisation, smoothing with ``encoder_input_hops`` and SIGN
        propagation, both over ``edge_index``), e.g. the full graph after training on an
        observed subgraph (inductive evaluation). O(E d + N D d); O(E d + nnz d) on
        sparse rows, which the first Linear reads as CSR (:meth:`_layer_input`). ``x`` may be
        stored sparse (CSR or COO): it stays so where the encoder reads CSR, with no O(N D)
        pass over a dense copy."""
        # A table has a vector per node id of the training graph: another edge set over the
        # same nodes is fine (message passing over it), other nodes are not. Nodes held out
        # of training keep their untrained vectors.
        if self.reads_ids and (x is None or x.size(0) != self.num_nodes):
            raise ValueError('an encoder of node ids (a NodeEmbedding table) has vectors for '
                             f'the {self.num_nodes} nodes it was trained on only: it cannot '
                             'embed a graph with other nodes')
        x = as_csr(x).float().to(self.device)
        if not self.reads_ids and self._reads_sparse_input(smooth=self.input_smoothing is None):
            # sparse rows become CSR before any pass over them: row normalisation is then
            # O(nnz), not two dense N x D copies (2.3 GB on Physics)
            x = csr_if_sparse(x)
        edge_index = edge_index.to(self.device)
        graph = self._graph(edge_index, x.size(0))
        if self.input_smoothing is None:
            h = self.model.embed(self._layer_input(self._encoder_input(x, edge_index)),
                                 graph).cpu()
        else:  # every layer that reads the input (the first, an input_skip path) smooths
            # over the new graph for this call
            with self._input_smoothing_over(edge_index, x.size(0)):
                h = self.model.embed(
                    self._layer_input(self._encoder_input(x, edge_index, smooth=False)),
                    graph).cpu()
        if not all_finite(h):
            raise FloatingPointError('the embeddings of the new graph hold NaN or infinity')
        return h

    # -- checkpoints ------------------------------------------------------------------------
    def save_checkpoint(self, path: Path) -> None:
        from ..utils.io import atomic_torch_save
        atomic_torch_save({'model': self.model.state_dict(),
                           'optimizer': self.optimizer.state_dict(),
                           'epoch': self.state.epoch, 'losses': self.state.losses,
                           'config': self.cfg.to_dict(),
                           'rng': self.generator.get_state(),
                           'shared_rng': self.shared_generator.get_state(),
                           'torch_rng': torch.get_rng_state(),
                           'sim': (self.sim.index, self.sim.weight, self.sim.lam),
                           'seconds': self.elapsed_seconds}, path)

    def load_checkpoint(self, path: Path) -> None:
        """Restores a :meth:`save_checkpoint` file. It is read weights-only (tensors and plain
        containers, no arbitrary code), and a truncated or foreign file is a ``ValueError``
        that says to delete it."""
        from ..utils.io import read_checkpoint
        state = read_checkpoint(path, CHECKPOINT_KEYS, self.cfg.to_dict(), self.device,
                                advice='delete it to restart this seed from scratch')
        self.model.load_state_dict(state['model'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.state = TrainState(state['epoch'], list(state['losses']), float(state['seconds']))
        # Rank 0 wrote the checkpoint: its per-step stream is its own, so the other ranks
        # start fresh ones of theirs (rank 0's would give every rank the same views and
        # pairs); its shared (anchor order) stream is every rank's.
        if self.dist.is_main:
            self.generator.set_state(state['rng'])
        else:
            self.generator = rank_generator(self.cfg.seed, self.dist.rank, self.state.epoch)
        if self.dist.enabled:
            self.shared_generator.set_state(state['shared_rng'])
        torch.set_rng_state(state['torch_rng'])
        index, weight, lam = state['sim']
        self._use_similarity(Similarity(index, weight, self.num_nodes, lam))


def _check_data(data: Data) -> None:
    if not isinstance(data, Data):
        raise TypeError(f"'data' must be a torch_geometric.data.Data, got {type(data).__name__}")
    x = getattr(data, 'x', None)
    if x is not None and (x.dim() != 2 or x.size(0) != data.num_nodes):
        raise ValueError(f"'data.x' must be [num_nodes, num_features] = [{data.num_nodes}, F], "
                         f'got {tuple(x.shape)}')
    if getattr(data, 'edge_index', None) is None:
        raise ValueError("'data.edge_index' is missing")
    if data.num_nodes < 3:
        raise ValueError(f"'data' must have at least 3 nodes, got {data.num_nodes}")


def is_featureless(data: Data) -> bool:
    """True when ``data`` has no ``x``, or ``x`` is the ``N x N`` identity (one-hot node ids,
    what OGB's featureless graphs are usually given). O(N) for a sparse identity, O(N²) to
    check a dense one."""
    x = getattr(data, 'x', None)
    if x is None:
        return True
    n = data.num_nodes
    if x.dim() != 2 or x.size(0) != n or x.size(1) != n:
        return False
    if x.layout != torch.strided:  # COO, CSR, ...
        coo = x.to_sparse_coo().coalesce()
        idx = coo.indices()
        return (coo.values().numel() == n and bool(torch.equal(idx[0], idx[1]))
                and bool((coo.values() == 1).all()))
    diag = torch.arange(n, device=x.device)
    return bool((x[diag, diag] == 1).all()) and float(x.abs().sum()) == n


def fit_node_embeddings(data: Data, config: Optional[NodeConfig] = None,
                        progress: Optional[Callable[[int, float], None]] = None,
                        **overrides) -> Tensor:
    """Trains GenURL on ``data`` (any PyG ``Data`` with ``edge_index``; without ``x``, or
    with one-hot ids as ``x``, one learnable vector per node: see ``encoder``) and returns
    the ``[N, out_channels]`` representation :math:`h` (on CPU; ``2 * out_channels`` with
    ``encoder: ego-gcn``, which concatenates two channels).

    Args:
        data (Data): the graph.
        config (NodeConfig, optional): the full configuration (defaults otherwise).
        progress (callable, optional): called as ``progress(epoch, loss)`` after each epoch.
        **overrides: any :class:`NodeConfig` field, e.g. ``epochs=100, seed=1,
            device='cuda', encoder='sage'``.
    """
    cfg = NodeConfig.from_dict(overrides, base=config)
    return NodeEmbeddingTrainer(data, cfg, progress).fit()
