"""Exploratory GenURL variants that the config cannot express, tried by hand before the
Optuna study (experiments/node_study.py); the numbers are in
experiments/results/node_study.md with their seeds. Each variant wraps the trained model:

  base          the configuration as given (--base YAML plus --set overrides)
  std<s>        z standardised per dimension and view over the nodes, times s, before Q
  norm<s>       z L2-normalised, times s (Q on a sphere of radius s)
  dec<g>        GKL plus g * ||C - I||_F^2 per view, C the correlation matrix of z (CCA-SSG's
                decorrelation term); combinable: std1dec0.001
  ema<w>        dynamic P from an EMA teacher (AFGRL-style): from epoch --dyn-start, every
                --dyn-every epochs, P = (1 - w) P_static + w kNN-geodesic P of the teacher's h
                (teacher = EMA of the encoder, momentum --ema-momentum, k --dyn-k)
  online<w>     the same with the current encoder as the teacher
  psym<b>       P's weights divided by (d_i d_j)^b, d the row sums of P (b = 0.5: the
                symmetric normalisation of GCN's A_hat), rescaled to the same total
  prow          P as t-SNE's symmetrised conditional, (w_ij/d_i + w_ij/d_j) / 2, same total
  views<K>      K augmented views per step instead of 2 (P over the K stacked copies, view
                pairs of one node attract with the view weight), sampled pairs scaled by K/2;
                the views are the trainer's (feature_mask_form, view_smoothing apply)
  bn / ln       PyG's GCN with BatchNorm / LayerNorm after the hidden layers
  col<g>x<s>    GKL plus g * GKL over the embedding's columns (GenURL on the transposed
                problem, a decorrelation term on GKL's own scale): each view's columns,
                standardised over the nodes and scaled to squared length s, are 2D points;
                column c of view 1 and column c of view 2 are P's only pairs (Student-t
                nu --col-nu, the run's alpha), e.g. col1x10
  nscale<r>     Q_ij = kappa_nu(||z_i - z_j||^2 exp(-(s_i + s_j))) with a learned log-scale s
                per node, shared by its views (t-SNE's per-point bandwidth, on Q's side and
                learned); s has Adam learning rate r times the run's, e.g. nscale1
  mae<g>        GKL plus g * GraphMAE's masked-feature reconstruction on the same encoder:
                a third pass with --mae-rate of the nodes' inputs replaced by a learned
                token, a one-layer GCN decoder on h (masked rows re-zeroed), scaled cosine
                error (exponent --mae-gamma) on the masked nodes, e.g. mae1
  appnp<K>      the encoder as an MLP (the config's depth and widths, PReLU) followed by K
                steps of personalised-PageRank propagation (APPNP, teleport --appnp-alpha):
                a receptive field of K hops without K weight layers, e.g. appnp10
  prein<h>      the encoder reads A_hat^h X instead of X (SGC's smoothing before the first
                layer, views drawn on the smoothed input): a 1-layer GCN then spans h + 1
                hops with one weight matrix, e.g. prein1. Since session 21 the config key
                encoder_input_hops (this variant is now an alias of --set
                encoder_input_hops=h; the same input, so the same numbers)
  blocks<k>     Q as a product of Student-t kernels over k equal blocks of z's dimensions,
                Q_ij = C prod_b kappa1(||z_i^b - z_j^b||^2) (kappa1 the peak-1 kernel, C the
                base kernel's Q(0), kept): a pair is similar only when every
                block agrees (CCA-SSG's per-dimension invariance, in GenURL's kernel form);
                computed as the one kernel at the distance d = nu (prod_b (1 + d_b/nu) - 1),
                so GKL's estimator is unchanged; blocks1 is the base. e.g. blocks16
  skip          a linear skip path from the encoder's input into the representation:
                h = act(GNN(X_in) + X_in W_s), X_in what the encoder reads (A_hat X with
                encoder_input_hops 1); with one GCN layer, act(A_hat^2 X W + A_hat X W_s + b),
                so the smoothed input stays linearly readable in h
  peer:NAME     not GenURL: a peer of the zoo (genurl_pyg.bench.peers, e.g. peer:cca_ssg)
                with its paper's settings for the data set (--set overrides them), so that
                a peer's per-node predictions enter the same paired comparison
  --smooth K    also probe A_hat^k h for k = 1..K (the representation smoothed on the graph;
                the same training, so paired by construction); with --save-predictions
                each goes to <name>_smooth<k>.npz beside the base's
  --readout-cat also probe [h_1, h] (the first layer's output beside h; jumping knowledge)
  --readout-swa F   also probe the model whose parameters are the running mean of the
                trained ones after every step from epoch F * epochs on (Polyak / SWA
                averaging; the same training, so the two read-outs are paired by
                construction); with --save-predictions its predictions go to
                <name>_swa.npz beside the base's
  --readout-preact  also probe the encoder's output before its last activation (the
                PReLU that GenURL's GNN encoders end with; CCA-SSG's read-out has none),
                on validation (and the holdout nodes with --holdout); no retraining
  --save-predictions F.npz  per-seed probe predictions for every node, for a paired,
                per-node comparison of two variants (experiments/paired_nodes.py); the
                probe's choice of C and every C's predictions (for --fixed-c there)
  --show-test   print test accuracy too (off by default: the script chooses on validation
                and should not show test nodes while it does)

Usage:
  python experiments/node_variants.py --dataset Cora --variant std1 --seeds 2 \\
      --base experiments/configs/cora_before_study.yaml --set num_layers=2
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import parse_overrides  # noqa: E402  (importing it points at the mirror)


class _Rescale(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module, mode: str, scale: float) -> None:
        super().__init__()
        self.inner, self.mode, self.scale = inner, mode, scale

    def forward(self, h):
        z = self.inner(h)
        if self.mode == 'std':
            z = (z - z.mean(0)) / (z.std(0) + 1e-6)
        else:
            z = torch.nn.functional.normalize(z, dim=1)
        return z * self.scale


def _restart_optimizer(trainer, extra_groups=()) -> None:
    """After a variant replaced parts of the model: a fresh Adam over its parameters (plus
    ``extra_groups``, Adam parameter groups a variant trains beside the model), and the
    model itself as what the steps call (no DDP wrapper in these one-process runs)."""
    cfg = trainer.cfg
    trainer.optimizer = torch.optim.Adam(
        [{'params': trainer.model.parameters()}, *extra_groups], lr=cfg.lr,
        weight_decay=cfg.weight_decay)
    trainer.net = trainer.model


def _apply(trainer, variant: str) -> None:
    model = trainer.model
    for mode in ('std', 'norm'):
        if variant.startswith(mode):
            scale = float(variant[len(mode):].split('dec')[0] or 1.0)
            model.projector = _Rescale(model.projector, mode, scale)
    if 'dec' in variant:
        weight, n, plain = float(variant.split('dec')[1]), trainer.num_nodes, model.loss

        def loss(z, sim, *a, **k):
            reg = 0.0
            for zv in (z[:n], z[n:]):
                zs = (zv - zv.mean(0)) / (zv.std(0) + 1e-6)
                reg = reg + (zs.t() @ zs / n - torch.eye(zs.size(1))).pow(2).sum()
            return plain(z, sim, *a, **k) + weight * reg
        model.loss = loss
    _restart_optimizer(trainer)


def _dynamic_teacher(trainer, variant: str, args) -> None:
    """Dynamic P from a teacher's kNN graph (variants ``ema<w>`` and ``online<w>``).
    Unlike the config's ``dynamic`` (which recomputes P's feature part and so does nothing
    when ``use_features`` is off), the teacher's kNN part is mixed in whatever P holds."""
    import copy
    from genurl_pyg.structure.similarity import Similarity, combine
    from genurl_pyg.vision.backbones import ema_update
    source = 'ema' if variant.startswith('ema') else 'online'
    weight = float(variant[len(source):])
    online = trainer.model.encoder
    teacher = copy.deepcopy(online).requires_grad_(False) if source == 'ema' else online
    apply_step = trainer._apply

    def step(loss):
        out = apply_step(loss)
        if source == 'ema':
            with torch.no_grad():
                ema_update(teacher, online, args.ema_momentum)
        return out

    def refresh(epoch: int) -> None:
        if epoch < args.dyn_start or (epoch - args.dyn_start) % args.dyn_every:
            return
        was = teacher.training
        teacher.eval()
        with torch.no_grad():
            h = teacher(trainer.x_enc, trainer.graph)
        teacher.train(was)
        builder, k = trainer.builder, trainer.builder.k
        builder.k = args.dyn_k
        try:
            part = builder._feature_part(h)
        finally:
            builder.k = k
        static = trainer.static_sim
        index, value = combine(part, (static.index, static.weight), 1 - weight,
                               trainer.num_nodes)
        trainer._use_similarity(Similarity(index, value, trainer.num_nodes, static.lam))
    trainer._apply = step
    trainer._maybe_refresh_similarity = refresh


def _reweight_similarity(trainer, variant: str) -> None:
    """Variants ``psym<b>`` and ``prow``: P's weights normalised by the row sums d."""
    from genurl_pyg.structure.similarity import Similarity
    sim = trainer.static_sim
    (i, j), w, n = sim.index, sim.weight, sim.num_nodes
    d = torch.zeros(n, dtype=w.dtype).index_add_(0, i, w).clamp_min(1e-12)
    if variant == 'prow':
        new = 0.5 * (w / d[i] + w / d[j])
    else:
        new = w / (d[i] * d[j]).pow(float(variant[4:] or 0.5))
    new = (new * w.sum() / new.sum()).clamp_max(1.0)  # same total weight, memberships <= 1
    trainer._use_similarity(Similarity(sim.index, new, n, sim.lam, dict(sim.info)))


def _many_views(trainer, num_views: int) -> None:
    """Variant ``views<K>``: K views per full-graph step (all-pairs or sampled, as the
    trainer would choose for 2 views; sampled pair counts scaled by K/2)."""
    from genurl_pyg.node.views import multi_view_similarity
    k = num_views
    trainer.train_sim = multi_view_similarity(trainer.static_sim, trainer.cfg.view_weight, k)
    all_pairs = trainer._use_all_pairs()  # decided for 2 views, as the shipped run does
    cfg = trainer.cfg

    def step() -> float:
        trainer.model.train()
        trainer.optimizer.zero_grad()
        # the trainer's own views: its feature_mask_form and view_smoothing apply
        z = torch.cat([trainer._view_forward(x, ei)[1]
                       for x, ei in trainer._augmented_views(k)])
        if all_pairs:
            return trainer._apply(trainer.model.loss(z, trainer.train_sim))
        return trainer._apply(trainer.model.loss(
            z, trainer.train_sim, num_pos=cfg.num_pos * k // 2, num_neg=cfg.num_neg * k // 2,
            generator=trainer.generator))
    trainer.step = step


def _column_gkl(trainer, variant: str, nu: float) -> None:
    """Variant ``col<g>x<s>``: the GKL of the node pairs plus ``g`` times a GKL whose points
    are the 2D standardised columns of the two views (O(D^2 N) per step)."""
    from genurl_pyg.nn import functional as LF
    weight, scale = (float(v) for v in variant[3:].split('x'))
    model, n, plain = trainer.model, trainer.num_nodes, trainer.model.loss
    alpha = model.criterion.alpha

    def loss(z, sim, *a, **k):
        cols = [((zv - zv.mean(0)) / (zv.std(0) + 1e-6)).t() * (scale / n) ** 0.5
                for zv in (z[:n], z[n:])]
        d = cols[0].size(0)
        p = torch.zeros(2 * d, 2 * d)
        ar = torch.arange(d)
        p[ar, ar + d] = p[ar + d, ar] = 1.0
        return plain(z, sim, *a, **k) + weight * LF.all_pairs_loss(torch.cat(cols), p, nu,
                                                                   'gkl', alpha)
    model.loss = loss


def _sampled_gkl(trainer, distance):
    """The trainer's sampled GKL with ``distance(z, i, j)`` (squared, per pair) in place of
    the plain one: the variants that change only how Q measures a pair (``nscale``,
    ``blocks``) share the sampling and the estimator."""
    from genurl_pyg.nn import functional as LF
    from genurl_pyg.nn.sampling import sample_pairs
    crit = trainer.model.criterion

    def loss(z, sim, *a, num_pos=None, num_neg=None, generator=None, **k):
        if num_pos is None:
            raise ValueError('this variant is written for the sampled loss (batch_mode '
                             'sampled, or auto above all_pairs_max_nodes)')
        smp = sample_pairs(sim, num_pos, num_neg, generator)
        i, j = torch.cat([smp.pos_i, smp.neg_i]), torch.cat([smp.pos_j, smp.neg_j])
        d = distance(z, i, j)
        ns = smp.pos_i.numel()
        return LF._sampled_estimate(d[:ns], smp.pos_p, d[ns:], smp.num_support, smp.num_pairs,
                                    crit.nu, crit.variant, crit.alpha, crit.eps, None, None)
    return loss


def _node_scale(trainer, variant: str) -> None:
    """Variant ``nscale<r>``: the sampled GKL with a learned per-node scale in Q's kernel,
    ``d_ij^2 exp(-(s_i + s_j))``; the scale absorbs each node's local density, so that the
    representation need not. O(s + m) extra per step."""
    from genurl_pyg.nn.pair_distance import pair_sqdist
    n = trainer.num_nodes
    log_scale = torch.nn.Parameter(torch.zeros(n))
    trainer.node_log_scale = log_scale
    trainer.model.loss = _sampled_gkl(trainer, lambda z, i, j: pair_sqdist(z, i, j) * torch.exp(
        -(log_scale[i % n] + log_scale[j % n])))
    _restart_optimizer(trainer, [{'params': [log_scale],
                                  'lr': trainer.cfg.lr * float(variant[6:] or 1.0)}])


def block_distance(z: torch.Tensor, i: torch.Tensor, j: torch.Tensor, blocks: int,
                   nu: float) -> torch.Tensor:
    """The squared distance at which one Student-t kernel equals its value at 0 times the
    product of the peak-1 kernels of the pairs' ``blocks`` equal blocks of dimensions:
    (1 + d / nu) = prod_b (1 + d_b / nu). O(pairs * D)."""
    if z.size(1) % blocks:
        raise ValueError(f'blocks{blocks}: the {z.size(1)} dimensions of z do not split into '
                         f'{blocks} equal blocks')
    diff = (z[i] - z[j]).pow(2).view(i.numel(), blocks, -1).sum(-1)
    return nu * torch.expm1(torch.log1p(diff / nu).sum(-1))


def _block_kernel(trainer, variant: str) -> None:
    """Variant ``blocks<k>``: the sampled GKL with Q the product of the Student-t kernels of
    k equal blocks of z's dimensions (see :func:`block_distance`). O(pairs * D) like the
    base, but gathered per pair instead of one fused distance: 5x its time on CiteSeer."""
    blocks, nu = int(variant[6:]), trainer.model.criterion.nu
    trainer.model.loss = _sampled_gkl(trainer, lambda z, i, j: block_distance(z, i, j, blocks,
                                                                              nu))


def _masked_reconstruction(trainer, variant: str, rate: float, gamma: float) -> None:
    """Variant ``mae<g>``: a reconstruction target beside GKL (GraphMAE's, Hou et al. 2022):
    one extra encoder pass per step, O(cost of a forward + N F) more."""
    from torch_geometric.nn import GCNConv
    weight, model, cfg = float(variant[3:]), trainer.model, trainer.cfg
    x = trainer.x_enc.to_dense() if trainer.x_enc.is_sparse_csr else trainer.x_enc
    n, f = x.shape
    token = torch.nn.Parameter(torch.zeros(1, f))
    decoder = GCNConv(cfg.out_channels, f)
    plain = model.loss

    def loss(z, sim, *a, **k):
        masked = torch.rand(n, generator=trainer.generator) < rate
        xm = torch.where(masked[:, None], token.expand(n, f), x)
        h = model.encoder(xm, trainer.graph)
        h = h.masked_fill(masked[:, None], 0.0)  # re-mask: the decoder must use neighbours
        rec = decoder(h, trainer.edge_index)
        cos = torch.nn.functional.cosine_similarity(rec[masked], x[masked], dim=1)
        return plain(z, sim, *a, **k) + weight * (1 - cos).pow(gamma).mean()
    model.loss = loss
    _restart_optimizer(trainer, [{'params': [token, *decoder.parameters()]}])


def _normalised_encoder(trainer, norm: str, seed: int) -> None:
    """Variants ``bn`` / ``ln``: the GCN rebuilt with a norm layer after its hidden layers."""
    from torch_geometric.nn.models import GCN
    cfg = trainer.cfg
    torch.manual_seed(seed)
    trainer.model.encoder.gnn = GCN(trainer.x_enc.size(1), cfg.hidden_channels, cfg.num_layers,
                                    cfg.out_channels, act='prelu', norm=norm)
    _keep_input_smoothing(trainer, trainer.model.encoder.gnn.convs[0], 'lin')
    _restart_optimizer(trainer)


def _keep_input_smoothing(trainer, module, name: str) -> None:
    """A rebuilt encoder's first Linear (``module.<name>``) smooths its output as the
    trainer's did, where the trainer moved encoder_input_hops after the first weight
    matrix (x_enc then holds the unsmoothed rows)."""
    from genurl_pyg.node.deferred_smoothing import smooth_after
    if trainer.input_smoothing is not None:
        smooth_after(module, name, trainer.input_smoothing, trainer.cfg.encoder_input_hops)


class _PropagatedMLP(torch.nn.Module):
    """Variant ``appnp<K>``: an MLP, then K steps of APPNP propagation (Gasteiger et al.,
    2019): h = (1 - a) A_hat h + a h_0, called ``(x, edge_index)`` like the GNNs."""

    def __init__(self, cfg, in_channels: int, steps: int, alpha: float) -> None:
        super().__init__()
        from torch_geometric.nn import APPNP, MLP
        channels = [in_channels] + [cfg.hidden_channels] * (cfg.num_layers - 1) + \
            [cfg.out_channels]
        self.mlp = MLP(channels, act='prelu', norm=None, plain_last=True)
        self.prop = APPNP(steps, alpha)

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.prop(self.mlp(x), edge_index)


def _propagated_encoder(trainer, variant: str, alpha: float, seed: int) -> None:
    torch.manual_seed(seed)
    trainer.model.encoder.gnn = _PropagatedMLP(trainer.cfg, trainer.x_enc.size(1),
                                               int(variant[5:]), alpha)
    _keep_input_smoothing(trainer, trainer.model.encoder.gnn.mlp.lins, '0')
    _restart_optimizer(trainer)


class _SkipGNN(torch.nn.Module):
    """Variant ``skip``: the GNN's output plus a bias-free linear map of its input."""

    def __init__(self, gnn: torch.nn.Module, in_channels: int, out_channels: int) -> None:
        super().__init__()
        from torch_geometric.nn import Linear
        self.gnn = gnn
        self.lin = Linear(in_channels, out_channels, bias=False)

    def reset_parameters(self) -> None:
        self.gnn.reset_parameters()
        self.lin.reset_parameters()

    def forward(self, x: torch.Tensor, edge_index) -> torch.Tensor:
        return self.gnn(x, edge_index) + self.lin(x)


def _skip_encoder(trainer, seed: int) -> None:
    torch.manual_seed(seed)
    skip = _SkipGNN(trainer.model.encoder.gnn, trainer.x_enc.size(1),
                    trainer.cfg.out_channels)
    skip.lin.reset_parameters()
    trainer.model.encoder.gnn = skip
    _keep_input_smoothing(trainer, skip, 'lin')  # the skip reads A_hat X as the GNN does
    _restart_optimizer(trainer)


def _layer_outputs(trainer) -> torch.Tensor:
    """``[h_1, h]``: the first GCN layer's activated output beside the representation."""
    gnn, outs = trainer.model.encoder.gnn, []
    hook = gnn.convs[0].register_forward_hook(lambda m, i, o: outs.append(o))
    try:
        h = trainer.model.embed(trainer.x_enc, trainer.graph)
    finally:
        hook.remove()
    return torch.cat([gnn.act(outs[0]), h], dim=1)


def pre_activation(trainer) -> torch.Tensor:
    """The encoder's output before its last activation (the input of the ``act`` module
    that GenURL's GNN encoders end with), computed by the same full-graph forward."""
    act = getattr(trainer.model.encoder, 'act', None)
    if act is None:
        raise SystemExit('--readout-preact needs an encoder that ends with an activation '
                         f'module (gcn, gat); this one is {type(trainer.model.encoder).__name__}')
    outs = []
    hook = act.register_forward_hook(lambda m, i, o: outs.append(i[0].detach()))
    try:
        trainer.model.embed(trainer.x_enc, trainer.graph)
    finally:
        hook.remove()
    return outs[0].cpu()


class ParameterAverage:
    """The running mean of ``trainer.model``'s parameters after every optimiser step from
    epoch ``start`` on (``--readout-swa``): wraps ``trainer._apply``, the step's last call.
    Buffers are not averaged (the configs it is read on have no BatchNorm)."""

    def __init__(self, trainer, start: int) -> None:
        self.trainer, self.start, self.count = trainer, start, 0
        self.mean = {n: torch.zeros_like(p) for n, p in trainer.model.named_parameters()}
        apply_step = trainer._apply

        def step(loss):
            out = apply_step(loss)
            if trainer.state.epoch >= self.start:
                self.count += 1
                with torch.no_grad():
                    for n, p in trainer.model.named_parameters():
                        self.mean[n].add_(p.detach() - self.mean[n], alpha=1.0 / self.count)
            return out
        trainer._apply = step

    @torch.no_grad()
    def embed(self) -> torch.Tensor:
        """``trainer.embed()`` with the averaged parameters (the trained ones restored)."""
        if not self.count:
            raise SystemExit(f'--readout-swa: no step at or after epoch {self.start}')
        params = dict(self.trainer.model.named_parameters())
        saved = {n: p.detach().clone() for n, p in params.items()}
        try:
            for n, p in params.items():
                p.copy_(self.mean[n])
            return self.trainer.embed()
        finally:
            for n, p in params.items():
                p.copy_(saved[n])


def _mean_pair_distance(z: torch.Tensor, pairs: int = 20000) -> float:
    """Mean Euclidean distance of ``pairs`` random node pairs (fixed generator)."""
    g = torch.Generator().manual_seed(0)
    i, j = (torch.randint(z.size(0), (pairs,), generator=g) for _ in range(2))
    z = z.float().cpu()
    return (z[i] - z[j]).norm(dim=1).mean().item()


def _genurl_variant(data, base, over, seed: int, args):
    """The trainer of one seed with the variant's change applied (before training)."""
    from genurl_pyg.node import NodeConfig, NodeEmbeddingTrainer
    trainer = NodeEmbeddingTrainer(data, NodeConfig.from_dict({**over, 'seed': seed}, base))
    if args.variant.startswith(('ema', 'online')):
        _dynamic_teacher(trainer, args.variant, args)
    elif args.variant.startswith(('psym', 'prow')):
        _reweight_similarity(trainer, args.variant)
    elif args.variant.startswith('views'):
        _many_views(trainer, int(args.variant[5:]))
    elif args.variant.startswith('col'):
        _column_gkl(trainer, args.variant, args.col_nu)
    elif args.variant.startswith('nscale'):
        _node_scale(trainer, args.variant)
    elif args.variant.startswith('blocks'):
        _block_kernel(trainer, args.variant)
    elif args.variant.startswith('mae'):
        _masked_reconstruction(trainer, args.variant, args.mae_rate, args.mae_gamma)
    elif args.variant.startswith('appnp'):
        _propagated_encoder(trainer, args.variant, args.appnp_alpha, seed)
    elif args.variant == 'skip':
        _skip_encoder(trainer, seed)
    elif args.variant in ('bn', 'ln'):
        _normalised_encoder(trainer, {'bn': 'batch', 'ln': 'layer'}[args.variant], seed)
    elif args.variant != 'base' and not args.variant.startswith('prein'):
        _apply(trainer, args.variant)
    return trainer


def main() -> None:
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.evaluation import PROTOCOLS, linear_probe, split_for
    from genurl_pyg.evaluation.node import DEFAULT_CS
    from genurl_pyg.node import NodeConfig, dataset_defaults
    from genurl_pyg.node.propagation import normalized_adjacency
    from node_study import set_accuracy  # the holdout read from the probe's predictions
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--dataset', required=True)
    ap.add_argument('--variant', default='base')
    ap.add_argument('--seeds', type=int, default=2)
    ap.add_argument('--first-seed', type=int, default=0,
                    help='seeds FIRST .. FIRST + SEEDS - 1 (one process per core)')
    ap.add_argument('--base', default=None,
                    help="YAML config over NodeConfig's defaults (not over the data set's "
                         "shipped config; default: the data set's shipped config)")
    ap.add_argument('--set', nargs='*', default=[], metavar='KEY=JSON')
    ap.add_argument('--smooth', type=int, default=0)
    ap.add_argument('--readout-cat', action='store_true')
    ap.add_argument('--readout-preact', action='store_true')
    ap.add_argument('--readout-swa', type=float, default=None, metavar='F',
                    help='also probe the parameters averaged from epoch F * epochs '
                         'on (0 <= F < 1)')
    ap.add_argument('--col-nu', type=float, default=1.0)
    ap.add_argument('--holdout', action='store_true',
                    help='also score the nodes in none of train/val/test (public splits '
                         'leave ~1,000 such labelled nodes): a second selection set that '
                         'no earlier choice has seen')
    ap.add_argument('--save-predictions', metavar='NPZ',
                    help='write every seed\'s probe predictions for all nodes (at the C '
                         'chosen on validation, and at every C of the grid), the labels and '
                         'the split masks (for experiments/paired_nodes.py)')
    ap.add_argument('--mae-rate', type=float, default=0.5)
    ap.add_argument('--mae-gamma', type=float, default=3.0)
    ap.add_argument('--protocol', default='', metavar='NAME',
                    help="evaluation split instead of the data set's own, one of "
                         'genurl_pyg.evaluation.PROTOCOLS (e.g. random-planetoid: the '
                         "public split's sizes redrawn per seed); saved with the "
                         'predictions, so paired_nodes.py compares like with like')
    ap.add_argument('--cs', type=float, nargs='+', default=None, metavar='C',
                    help="the probe's grid of inverse regularisation strengths (default: "
                         'genurl_pyg.evaluation.DEFAULT_CS); saved with --save-predictions, '
                         'so paired_nodes.py only pairs runs of one grid')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--show-test', action='store_true',
                    help='print test accuracy too (a validation instrument: off, so that a '
                         'choice is not made while looking at test nodes)')
    ap.add_argument('--appnp-alpha', type=float, default=0.1)
    ap.add_argument('--dyn-start', type=int, default=10)
    ap.add_argument('--dyn-every', type=int, default=5)
    ap.add_argument('--dyn-k', type=int, default=10)
    ap.add_argument('--ema-momentum', type=float, default=0.99)
    args = ap.parse_args()
    if args.protocol and args.protocol not in PROTOCOLS:
        ap.error(f'--protocol {args.protocol!r} is not one of {", ".join(PROTOCOLS)}')
    if args.cs is not None and (min(args.cs) <= 0 or len(set(args.cs)) != len(args.cs)):
        ap.error(f'--cs takes distinct positive numbers, got {args.cs}')
    if args.readout_swa is not None and not 0 <= args.readout_swa < 1:
        ap.error(f'--readout-swa takes a fraction of the epochs in [0, 1), got '
                 f'{args.readout_swa}')
    cs = tuple(sorted(args.cs)) if args.cs else DEFAULT_CS
    torch.set_num_threads(args.threads)
    data, spec = load_dataset(args.dataset), get_spec(args.dataset)
    protocol = args.protocol or spec.protocol
    base = NodeConfig.from_yaml(args.base) if args.base else dataset_defaults(args.dataset)
    over = parse_overrides(args.set, ap.error)
    if args.variant.startswith('prein'):  # now a config key: the variant is its alias
        over['encoder_input_hops'] = int(args.variant[5:])
    vals, tests, secs, holds, preds, split_masks = [], [], [], [], [], []
    preds_by_c, chosen_c = [], []  # every C's predictions (paired_nodes.py --fixed-c)
    pre_vals, pre_holds = [], []
    swa = _new_readout()
    smoothed = {}  # k -> the read-out A_hat^k h's record (--smooth)
    average = None
    peer = args.variant[5:] if args.variant.startswith('peer:') else None
    if peer is not None and (args.readout_cat or args.readout_preact or args.base
                             or args.readout_swa is not None):
        ap.error('--readout-cat, --readout-preact, --readout-swa and --base describe a '
                 "GenURL run; a peer:NAME variant takes its paper's settings (--set "
                 'overrides them)')
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        if peer is not None:  # a peer of the zoo, its paper's settings, the same probe
            from genurl_pyg.bench.tasks.graph_methods import embed_nodes
            t = time.perf_counter()  # the peer's whole embedding call
            h = embed_nodes(peer, data, args.dataset, seed, over, float('inf'))[0]
        else:
            trainer = _genurl_variant(data, base, over, seed, args)
            average = (ParameterAverage(trainer, int(args.readout_swa * trainer.cfg.epochs))
                       if args.readout_swa is not None else None)
            t = time.perf_counter()  # GenURL's training, as before (P is built above)
            h = trainer.fit()
        secs.append(time.perf_counter() - t)
        if peer is None:  # the scale Q reads (node_study.md section 5: a tiny scale
            # leaves Q near 1 for every pair, so P's structure barely enters the gradient)
            with torch.no_grad():
                trainer.model.eval()
                z = trainer.model.projector(h.to(next(trainer.model.parameters()).device))
            print(f'  scale: mean |h| {h.norm(dim=1).mean().item():.4g}, mean |z| (what Q '
                  f'reads) {z.norm(dim=1).mean().item():.4g}, mean pair distance of z '
                  f'{_mean_pair_distance(z):.4g}')
        masks = split_for(data, protocol, seed)
        res = linear_probe(h, data.y, *masks, Cs=cs, keep_all=bool(args.save_predictions))
        preds.append(res.predictions)
        preds_by_c.append(res.predictions_by_c)
        chosen_c.append(res.C)
        split_masks.append(np.stack([m.numpy() for m in masks]))
        vals.append(res.val_accuracy)
        tests.append(res.test_accuracy)
        rest = ~(masks[0] | masks[1] | masks[2])
        if args.holdout and not rest.any():  # a random split covers every node
            print(f"  holdout: none ({args.dataset}'s split leaves no node outside "
                  'train/val/test)')
        elif args.holdout:
            hold = set_accuracy(res.predictions, data.y, *masks, which='holdout')
            holds.append(hold)
            print(f'  holdout ({int(rest.sum())} nodes, C chosen on val): {hold:.4f}')
        shown = f' test {res.test_accuracy:.4f}' if args.show_test else ''
        print(f'seed {seed}: val {res.val_accuracy:.4f}{shown} '
              f'({secs[-1]:.1f} s)', flush=True)
        if args.readout_preact:
            pre = pre_activation(trainer)
            rp = linear_probe(pre, data.y, *masks)
            pre_vals.append(rp.val_accuracy)
            line = f'  readout before the activation: val {rp.val_accuracy:.4f}'
            if args.holdout and rest.any():
                pre_holds.append(set_accuracy(rp.predictions, data.y, *masks,
                                              which='holdout'))
                line += f' holdout {pre_holds[-1]:.4f}'
            print(line)
        if average is not None:
            rs = linear_probe(average.embed(), data.y, *masks, Cs=cs,
                              keep_all=bool(args.save_predictions))
            _record(swa, rs)
            line = (f'  readout averaged from epoch {average.start} ({average.count} steps): '
                    f'val {rs.val_accuracy:.4f}')
            if args.holdout and rest.any():
                swa['holds'].append(set_accuracy(rs.predictions, data.y, *masks,
                                                 which='holdout'))
                line += f" holdout {swa['holds'][-1]:.4f}"
            print(line, flush=True)
        if args.readout_cat:
            rc = linear_probe(_layer_outputs(trainer).cpu(), data.y, *masks)
            shown = f' test {rc.test_accuracy:.4f}' if args.show_test else ''
            print(f'  readout [h_1, h]: val {rc.val_accuracy:.4f}{shown}')
        if args.smooth:  # read-outs of the same training: paired by construction
            adj, hk = normalized_adjacency(data.edge_index, data.num_nodes), h
            for k in range(1, args.smooth + 1):
                hk = adj @ hk
                rk = linear_probe(hk, data.y, *masks, Cs=cs,
                                  keep_all=bool(args.save_predictions))
                _record(smoothed.setdefault(k, _new_readout()), rk)
                line = f'  readout A_hat^{k} h: val {rk.val_accuracy:.4f}'
                if args.holdout and rest.any():
                    line += (' holdout '
                             f"{set_accuracy(rk.predictions, data.y, *masks, which='holdout'):.4f}")
                print(line, flush=True)
    if args.save_predictions:  # each extra read-out of the same trainings beside the base
        stem = str(Path(args.save_predictions).with_suffix(''))
        readouts = [(f'smooth{k}', f' smooth {k}', r) for k, r in smoothed.items()]
        if swa['preds']:
            readouts.append(('swa', f' swa {args.readout_swa}', swa))
        for tag, suffix, r in readouts:
            _save_predictions(f'{stem}_{tag}.npz', args, over, r['preds'], r['preds_by_c'],
                              res.Cs, r['chosen_c'], split_masks, data, protocol, suffix)
    if args.save_predictions:
        _save_predictions(args.save_predictions, args, over, preds, preds_by_c, res.Cs,
                          chosen_c, split_masks, data, protocol, '')
    print(json.dumps({'dataset': args.dataset, 'variant': args.variant, 'overrides': over,
                      'val': float(np.mean(vals)),
                      **({'test': float(np.mean(tests))} if args.show_test else {}),
                      'seconds': float(np.mean(secs)),
                      **({'holdout': float(np.mean(holds))} if holds else {}),
                      **({'swa_val': float(np.mean(swa['vals']))} if swa['vals'] else {}),
                      **({f'smooth{k}_val': float(np.mean(v['vals']))
                          for k, v in smoothed.items()}),
                      **({'swa_holdout': float(np.mean(swa['holds']))} if swa['holds'] else {}),
                      **({'preact_val': float(np.mean(pre_vals))} if pre_vals else {}),
                      **({'preact_holdout': float(np.mean(pre_holds))} if pre_holds else {})}))


def _new_readout() -> dict:
    """Per-seed probe results of one extra read-out of the same trainings
    (``--readout-swa``, ``--smooth``): saved beside the base's, paired by construction."""
    return {'preds': [], 'preds_by_c': [], 'chosen_c': [], 'vals': [], 'holds': []}


def _record(readout: dict, res) -> None:
    """Appends one seed's probe result to a read-out's record."""
    readout['preds'].append(res.predictions)
    readout['preds_by_c'].append(res.predictions_by_c)
    readout['chosen_c'].append(res.C)
    readout['vals'].append(res.val_accuracy)


def _save_predictions(path, args, over, preds, preds_by_c, cs, chosen_c, split_masks, data,
                      protocol, suffix: str) -> None:
    """Every seed's probe predictions in the format experiments/paired_nodes.py reads;
    ``suffix`` joins the variant's name (a read-out of the same training)."""
    np.savez_compressed(path, predictions=np.stack(preds),
                        predictions_by_c=np.stack(preds_by_c),
                        cs=np.asarray(cs), chosen_c=np.asarray(chosen_c),
                        masks=np.stack(split_masks), labels=data.y.numpy(),
                        seeds=np.arange(args.first_seed, args.first_seed + args.seeds),
                        # the base config and the overrides name the variant too: files of
                        # different --base or --set values must not be joined or read as
                        # one variant
                        variant=args.variant
                        + (f' base={Path(args.base).resolve()}' if args.base else '')
                        + (f' {json.dumps(over, sort_keys=True)}' if over else '') + suffix,
                        dataset=args.dataset, protocol=protocol)


if __name__ == '__main__':
    main()
