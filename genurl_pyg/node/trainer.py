"""Training GenURL node embeddings on one graph (the library's main job)."""
from __future__ import annotations

import random
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.nn import MLP
from torch_geometric.utils import to_torch_csr_tensor

from ..nn.losses.genurl_loss import GenURLLoss
from ..nn.models.genurl import GenURL
from ..structure.builder import SimilarityBuilder
from ..structure.similarity import Similarity, combine
from ..nn import functional as LF
from ..nn.sampling import sample_pairs
from .config import AUTO_SIGN_MIN_NODES, NodeConfig
from .propagation import propagate_features
from .encoders import build_encoder
from .views import augment, two_view_similarity


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str) -> torch.device:
    dev = torch.device(device)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f"config 'device' is {device!r} but CUDA is not available here")
    return dev


@dataclass
class TrainState:
    """What a checkpoint holds, so an interrupted run resumes where it stopped."""
    epoch: int = 0
    losses: List[float] = field(default_factory=list)


class NodeEmbeddingTrainer:
    """Builds P, the model and the optimiser for one graph and runs the epochs.

    Per epoch: two augmented views through the encoder (O(E·d + N·D·d)), then the GenURL loss
    over all pairs of the ``2N`` stacked nodes (O(N^2 d), small graphs) or the unbiased
    sampled estimate (O((s + m) d)). Building P is done once (static) or every
    ``dynamic_every`` epochs from the current representation (dynamic).
    """

    def __init__(self, data: Data, config: NodeConfig,
                 progress: Optional[Callable[[int, float], None]] = None) -> None:
        _check_data(data)
        self.cfg = config.validate()
        self.device = resolve_device(config.device)
        self.generator = seed_everything(config.seed)
        self.x = data.x.float().to(self.device)
        self.edge_index = data.edge_index.to(self.device)
        self.num_nodes = data.num_nodes
        self.progress = progress
        self.builder = SimilarityBuilder(
            k=min(config.k, self.num_nodes - 1), metric=config.metric,
            feature_hops=config.feature_hops, graph_hops=config.graph_hops, lam=config.lam,
            nu=config.nu_input, reduce_dim=config.knn_max_dim or None,
            use_features=config.use_features, use_graph=config.use_graph)
        self.static_sim = self.builder.build(self.x, self.edge_index, self.num_nodes)
        self.encoder_name = config.encoder
        if config.encoder == 'auto':
            self.encoder_name = 'sign' if self.num_nodes > AUTO_SIGN_MIN_NODES else 'gcn'
        # Bag-of-words features are ~1 % dense: a CSR copy makes the encoder's first product
        # O(nnz * d) instead of O(N * D * d). Only for encoders whose first op is a Linear.
        self.x_enc = self.x
        if self.encoder_name == 'sign':
            self.x_enc = propagate_features(self.x, self.edge_index, config.sign_hops)
        elif self.encoder_name in ('gcn', 'mlp') and _density(self.x) < SPARSE_INPUT_DENSITY:
            with warnings.catch_warnings():
                warnings.filterwarnings('ignore', message='Sparse CSR tensor support')
                self.x_enc = self.x.to_sparse_csr()
        self.sim = self.static_sim
        self.train_sim = self._training_similarity(self.sim)
        # The unaugmented graph never changes: build its CSR adjacency once, not per epoch.
        self.graph = self._graph(self.edge_index)
        encoder = build_encoder('mlp' if self.encoder_name == 'sign' else self.encoder_name,
                                self.x_enc.size(1), config.hidden_channels,
                                config.out_channels, config.num_layers, config.dropout)
        projector = None
        if config.projector_channels > 0:
            projector = MLP([config.out_channels, config.out_channels,
                             config.projector_channels], norm=None, act='prelu')
        self.model = GenURL(encoder, projector,
                            GenURLLoss(config.loss, config.nu_latent, config.alpha)).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr,
                                          weight_decay=config.weight_decay)
        self.state = TrainState()

    # -- similarity -------------------------------------------------------------------------
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
        self.sim = Similarity(index, weight, self.num_nodes, self.static_sim.lam,
                              {'dynamic_epoch': epoch})
        self.train_sim = self._training_similarity(self.sim)

    def _graph(self, edge_index: Tensor):
        """GCN/SAGE get the transposed adjacency as a CSR tensor: PyG then aggregates with
        one sparse-dense product instead of materialising an [E, d] message tensor (8x
        faster on Amazon Computers, 491k edges, d = 512)."""
        if self.encoder_name not in ('gcn', 'sage'):
            return edge_index
        with warnings.catch_warnings():  # PyG's builder trips torch's invariant-check notice
            warnings.filterwarnings('ignore', message='Sparse invariant checks')
            return to_torch_csr_tensor(edge_index.flip(0),
                                       size=(self.num_nodes, self.num_nodes))

    # -- training ---------------------------------------------------------------------------
    def _use_all_pairs(self) -> bool:
        mode = self.cfg.batch_mode
        if mode == 'auto':
            return self.train_sim.num_nodes <= self.cfg.all_pairs_max_nodes \
                or self.cfg.loss in ('kl', 'infonce')
        return mode == 'all'

    def step(self) -> float:
        cfg = self.cfg
        self.model.train()
        self.optimizer.zero_grad()
        if self.encoder_name == 'sign' and not self._use_all_pairs():
            return self._minibatch_step()
        if cfg.views:
            zs = []
            for _ in range(2):
                x, ei = augment(self.x_enc, self.edge_index, cfg.feature_mask, cfg.edge_drop,
                                self.generator)
                zs.append(self.model(x, self._graph(ei))[1])
            z = torch.cat(zs)
        else:
            z = self.model(self.x_enc, self.graph)[1]
        if self._use_all_pairs():
            loss = self.model.loss(z, self.train_sim)
        else:
            loss = self.model.loss(z, self.train_sim, num_pos=cfg.num_pos, num_neg=cfg.num_neg,
                                   generator=self.generator)
        return self._apply(loss)

    def _apply(self, loss: Tensor) -> float:
        """Stops on a non-finite loss, else back-propagates and takes the optimiser step."""
        if not torch.isfinite(loss):
            raise FloatingPointError(f'loss became {loss.item()} at epoch {self.state.epoch}; '
                                     "lower 'lr' or raise 'nu_latent'")
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def _minibatch_step(self) -> float:
        """True mini-batch step for the decoupled (SIGN) encoder: only the rows that the
        sampled pairs touch go through the MLP. O((s + m) d) per step, whatever N is."""
        cfg, n = self.cfg, self.num_nodes
        s = sample_pairs(self.train_sim, cfg.num_pos, cfg.num_neg, self.generator)
        nodes = torch.cat([s.pos_i, s.pos_j, s.neg_i, s.neg_j])
        uniq, inv = torch.unique(nodes, return_inverse=True)
        x = self.x_enc[uniq % n]  # stacked views: node v of view 2 is v + N
        if cfg.views and cfg.feature_mask > 0:
            keep = torch.rand(2, x.size(1), generator=self.generator) >= cfg.feature_mask
            x = x * keep.to(x.device, x.dtype)[uniq // n]
        z = self.model(x)[1].index_select(0, inv)
        a, b = s.pos_i.numel(), s.neg_i.numel()
        zi, zj, zni, znj = z.split([a, a, b, b])
        crit = self.model.criterion
        loss = LF.sampled_pairs_loss(zi, zj, s.pos_p, zni, znj, s.num_support, s.num_pairs,
                                     crit.nu, crit.variant, crit.alpha, crit.eps)
        return self._apply(loss)

    def fit(self, checkpoint: Optional[Path] = None, checkpoint_every: int = 25) -> Tensor:
        while self.state.epoch < self.cfg.epochs:
            self._maybe_refresh_similarity(self.state.epoch)
            loss = self.step()
            self.state.epoch += 1
            self.state.losses.append(loss)
            if self.progress is not None:
                self.progress(self.state.epoch, loss)
            if checkpoint is not None and (self.state.epoch % checkpoint_every == 0):
                self.save_checkpoint(checkpoint)
        return self.embed()

    def embed(self) -> Tensor:
        return self.model.embed(self.x_enc, self.graph).cpu()

    # -- checkpoints ------------------------------------------------------------------------
    def save_checkpoint(self, path: Path) -> None:
        from ..utils.io import atomic_torch_save
        atomic_torch_save({'model': self.model.state_dict(),
                           'optimizer': self.optimizer.state_dict(),
                           'epoch': self.state.epoch, 'losses': self.state.losses,
                           'config': self.cfg.to_dict(),
                           'rng': self.generator.get_state(),
                           'torch_rng': torch.get_rng_state(),
                           'sim': (self.sim.index, self.sim.weight, self.sim.lam)}, path)

    def load_checkpoint(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=False)
        if state['config'] != self.cfg.to_dict():
            raise ValueError(f'checkpoint {path} was written with a different config; '
                             'resume needs the same config (or delete the checkpoint)')
        self.model.load_state_dict(state['model'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.state = TrainState(state['epoch'], list(state['losses']))
        self.generator.set_state(state['rng'])
        torch.set_rng_state(state['torch_rng'])
        index, weight, lam = state['sim']
        self.sim = Similarity(index, weight, self.num_nodes, lam)
        self.train_sim = self._training_similarity(self.sim)


SPARSE_INPUT_DENSITY = 0.1


def _density(x: Tensor) -> float:
    return float((x != 0).sum()) / max(1, x.numel())


def _check_data(data: Data) -> None:
    if not isinstance(data, Data):
        raise TypeError(f"'data' must be a torch_geometric.data.Data, got {type(data).__name__}")
    if getattr(data, 'x', None) is None:
        raise ValueError("'data.x' is missing: GenURL node embeddings need node features")
    if getattr(data, 'edge_index', None) is None:
        raise ValueError("'data.edge_index' is missing")
    if data.num_nodes < 3:
        raise ValueError(f"'data' must have at least 3 nodes, got {data.num_nodes}")


def fit_node_embeddings(data: Data, config: Optional[NodeConfig] = None,
                        progress: Optional[Callable[[int, float], None]] = None,
                        **overrides) -> Tensor:
    """Trains GenURL on ``data`` (any PyG ``Data`` with ``x`` and ``edge_index``) and returns
    the ``[N, out_channels]`` representation :math:`h` (on CPU).

    Args:
        data (Data): the graph.
        config (NodeConfig, optional): the full configuration (defaults otherwise).
        progress (callable, optional): called as ``progress(epoch, loss)`` after each epoch.
        **overrides: any :class:`NodeConfig` field, e.g. ``epochs=100, seed=1,
            device='cuda', encoder='sage'``.
    """
    cfg = NodeConfig.from_dict(overrides, base=config)
    return NodeEmbeddingTrainer(data, cfg, progress).fit()
