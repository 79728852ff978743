r"""Self-supervised training of an image backbone with the GenURL objective.

One step, for a batch of ``B`` training images (kept as ``uint8`` on the training device):
two random views per image (:class:`~genurl_pyg.vision.views.BatchViews`, drawn from a
seeded CPU generator), the backbone and projector on the ``2B`` views, with
``view_weight < 1`` the EMA teacher's features of the same views (no gradient) for P's kNN
part (:class:`~genurl_pyg.vision.objective.BatchSimilarity`) and, with
``false_negatives``, the pairs left unrepelled
(:func:`~genurl_pyg.vision.objective.teacher_false_negatives`), the GKL between P and the
Student-t Q of the projector outputs, an optimiser step, then the teacher's EMA update (no
teacher exists with views only, the default). With ``memory_bank`` > 0 P's kNN part comes
from the bank of past projections instead of a teacher
(:mod:`~genurl_pyg.vision.memory_bank`), and each step's first views are pushed to it.
With ``target: ema`` a predictor head follows the projector and Q runs from its outputs
to the EMA teacher's projections of the same views (backbone and projector both EMAs;
BYOL's asymmetry, GenURL's P, kernel and GKL).
Cost per step: one forward and one backward pass of the backbone on ``2B`` images (a second
forward with the teacher), plus O(B²·(D + d)) for P and the loss (O(B·M·d) more with a
bank of M entries).

Under ``torchrun`` (``genurl_pyg.distributed``) the run is data-parallel: ``batch_size``
is the *global* batch, every rank draws the same image order and takes its own
``batch_size / world`` images of each batch (own views, own random stream), and the
projections (and the teacher's features, the bank's rows) of all ranks are gathered with
their gradient, so P, Q and the GKL span the global batch exactly as in one process; every
rank computes that loss, and DDP's gradient average makes the step the one-process step.
Only the BatchNorm statistics stay per rank (``batch_size / world`` images each, as in
SimCLR without SyncBatchNorm). The peers' losses gather likewise
(:mod:`~genurl_pyg.vision.peers`). Rank 0 writes the checkpoint, with every rank's view
stream, so a resume on the same number of processes continues each rank's stream.
Extra cost per step: one all-gather of the ``2B x d`` projections and the redundant
O(B²·d) loss on every rank.

The learning rate warms up linearly for ``warmup_epochs`` and decays by a cosine to 0,
updated every step. A checkpoint (model, teacher, optimiser, schedule, generators,
history) is written after every epoch when a path is given; :meth:`VisualTrainer.fit` with
the same path resumes from it and gives the same result as a run that was never
interrupted (on the CPU; CUDA kernels may differ in the last bits).
"""
from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
from torch import Tensor, nn

from .. import distributed
from ..distributed import gather_objects, gather_rows, rank_generator
from ..nn.decorrelation import correlation_loss, decorrelation_loss
from ..nn.losses.genurl_loss import GenURLLoss
from ..node.config import config_differences
from ..utils.devices import resolve_device
from ..utils.io import atomic_torch_save
from .backbones import build_backbone, ema_update, feature_dim
from .config import SSLConfig
from .data import ImageData
from .memory_bank import MemoryBank, bank_similarity
from .objective import BatchSimilarity, teacher_false_negatives
from .views import BatchViews, ViewConfig

ALL_PAIRS_MAX = 4096  # rows (2B) up to which the loss takes every pair of the batch


@dataclass
class VisualTrainState:
    epoch: int = 0
    losses: List[float] = field(default_factory=list)
    knn: List[Dict[str, float]] = field(default_factory=list)  # {'epoch', 'accuracy'}
    seconds: float = 0.0
    images: int = 0


def checkpoint_config(blob: dict) -> Optional[dict]:
    """The config a checkpoint was written with; keys that :class:`SSLConfig` gained since
    take their defaults, which keep the behaviour of the code that wrote it (for example
    ``false_negatives`` 0). ``None`` when the blob holds no config."""
    saved = blob.get('config')
    if saved is None:
        return None
    return {**SSLConfig().to_dict(), **saved}


def projector(in_dim: int, hidden: int, out: int) -> nn.Module:
    """Linear-BatchNorm-ReLU-Linear (SimCLR's projection head with BatchNorm:
    :class:`~genurl_pyg.nn.models.ProjectionHead`)."""
    from ..nn.models.projection_head import ProjectionHead
    return ProjectionHead(in_dim, hidden, out)


class OnlineNetwork(nn.Module):
    """The trained network as one module, so that DDP sees one forward per step: the
    backbone, projector and (``target: ema``) predictor on the stacked views, or a peer's
    loss on its two views."""

    def __init__(self, model: nn.ModuleDict) -> None:
        super().__init__()
        self.model = model

    def forward(self, *views: Tensor) -> Tensor:
        m = self.model
        if 'peer' in m:
            return m['peer'](m['backbone'], *views)
        z = m['projector'](m['backbone'](views[0]))
        return m['predictor'](z) if 'predictor' in m else z


def gather_views(z: Tensor, ctx: distributed.DistContext) -> Tensor:
    """Every rank's rows ``[view 1 of its b images; view 2 of them]`` as the global batch's
    ``[view 1 of all B images; view 2 of all]`` (rank order inside each half), gradient
    kept (:func:`~genurl_pyg.distributed.gather_rows`). One process: ``z`` itself."""
    if not ctx.enabled:
        return z
    parts = gather_rows(z, ctx)
    halves = [part.chunk(2) for part in parts]
    return torch.cat([h[0] for h in halves] + [h[1] for h in halves])


class VisualTrainer:
    """Builds the views, backbone, projector, teacher and optimiser for one image set and
    runs the epochs (see the module doc).

    Args:
        data: the images (:func:`~genurl_pyg.vision.data.load_images`).
        config: an :class:`SSLConfig`.
        backbone: any module mapping ``[B, C, H, W]`` to ``[B, D]``; ``None`` builds
            ``config.backbone``.
        progress: called after every step with ``(epoch, step, steps, loss, images/s)``.
    """

    def __init__(self, data: ImageData, config: Optional[SSLConfig] = None,
                 backbone: Optional[nn.Module] = None,
                 progress: Optional[Callable[..., None]] = None) -> None:
        self.cfg = cfg = (config or SSLConfig()).validate()
        self.data = data
        n = data.train_x.size(0)
        if cfg.batch_size > n:
            raise ValueError(f"ssl config 'batch_size' ({cfg.batch_size}) is larger than the "
                             f"{n} training images of {data.name}; use at most {n}")
        resolved = resolve_device(cfg.device, 'ssl config')
        self.dist = distributed.context(str(resolved))
        self.device = self.dist.device(str(resolved))
        world = self.dist.world_size
        if cfg.batch_size % world or cfg.batch_size // world < 2:
            raise ValueError(f"ssl config 'batch_size' ({cfg.batch_size}) is the global batch: "
                             f'it must split into at least 2 images on each of the {world} '
                             f'processes (a multiple of {world}, at least {2 * world})')
        self.local_batch = cfg.batch_size // world
        self.amp = cfg.amp == 'on' or (cfg.amp == 'auto' and self.device.type == 'cuda')
        torch.manual_seed(cfg.seed)  # model initialisation
        mean, std = data.channel_stats()
        c = data.train_x.size(1)
        views = ViewConfig.from_dict({'size': data.train_x.size(-1), **cfg.views})
        self.views = BatchViews(views, mean.tolist(), std.tolist())
        if backbone is None:
            backbone, _ = build_backbone(cfg.backbone, c)
        backbone = backbone.to(self.device)
        dim = feature_dim(backbone, (c, views.size, views.size), self.device)
        if cfg.objective == 'genurl':
            heads = {'projector': projector(dim, cfg.projector_hidden, cfg.projector_out)}
            if cfg.target == 'ema':  # last, so the optimiser's earlier parameters keep order
                heads['predictor'] = projector(cfg.projector_out, cfg.predictor_hidden,
                                               cfg.projector_out)
        else:  # a peer of the benchmark: its own heads and loss, the same everything else
            from .peers import build_peer
            heads = {'peer': build_peer(cfg.objective, dim, backbone, gather=self.dist.enabled)}
        self.model = nn.ModuleDict({'backbone': backbone, **heads}).to(self.device)
        # DDP broadcasts rank 0's parameters (every rank seeded alike anyway) and averages
        # the gradients; one process: the network itself
        self.net = distributed.wrap_ddp(OnlineNetwork(self.model), self.dist, self.device)
        # The EMA teacher is read only by P's kNN part (view_weight < 1) and the false-negative
        # mask: with views only (the default) keeping it up to date would be a wasted
        # backbone copy every step.
        # With a memory bank (memory_bank > 0) the bank, not a teacher, gives P's kNN part.
        reads_teacher = ((cfg.view_weight < 1 and not cfg.memory_bank)
                         or cfg.false_negatives > 0 or cfg.target == 'ema')
        self.teacher = (copy.deepcopy(self.model['backbone']).requires_grad_(False)
                        if cfg.objective == 'genurl' and reads_teacher else None)
        # target 'ema': the teacher's projector, an EMA of the online one (BYOL's target)
        self.target_projector = (copy.deepcopy(self.model['projector']).requires_grad_(False)
                                 if 'predictor' in self.model else None)
        self.similarity = BatchSimilarity(cfg.k, cfg.feature_hops, cfg.view_weight)
        # The memory bank, the false-negative mask and the EMA target change pairs that only
        # the all-pairs loss holds: refuse a batch too wide for it now, not at knn_start.
        all_pairs_only = [name for name, on in (('memory_bank', cfg.memory_bank),
                                                ('false_negatives', cfg.false_negatives),
                                                ('target: ema', cfg.target == 'ema')) if on]
        if cfg.objective == 'genurl' and all_pairs_only and 2 * cfg.batch_size > ALL_PAIRS_MAX:
            raise ValueError(f"ssl config '{all_pairs_only[0]}' needs the all-pairs loss: 2 * "
                             f'batch_size = {2 * cfg.batch_size} rows is above '
                             f'{ALL_PAIRS_MAX}')
        self.bank = (MemoryBank(cfg.memory_bank, cfg.projector_out, self.device)
                     if cfg.memory_bank and cfg.objective == 'genurl' else None)
        # repulsion 'decorrelation': GKL's attraction only (alpha 0 removes the p = 0 terms);
        # _step adds the covariance term that keeps the projections spread instead.
        alpha = 0.0 if cfg.repulsion == 'decorrelation' else cfg.alpha
        self.loss_fn = GenURLLoss(cfg.loss, cfg.nu_latent, alpha)
        lr = cfg.lr * cfg.batch_size / 256  # the linear scaling rule
        params = self.model.parameters()
        if cfg.optimizer == 'sgd':
            self.optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9,
                                             weight_decay=cfg.weight_decay)
        elif cfg.optimizer == 'lars':  # large-batch SGD (You et al. 2017), lightly's
            from .._optional import require
            require('lightly', "optimizer 'lars'")
            from lightly.utils.lars import LARS
            self.optimizer = LARS(params, lr=lr, momentum=0.9, weight_decay=cfg.weight_decay)
        else:
            self.optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
        self.steps_per_epoch = n // cfg.batch_size  # the last partial batch is dropped
        total = self.steps_per_epoch * cfg.epochs
        warm = self.steps_per_epoch * cfg.warmup_epochs
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: (s + 1) / warm if s < warm
            else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm))))
        self.order_gen = torch.Generator().manual_seed(cfg.seed)
        # the image order is shared by the ranks (each takes its part of every batch); the
        # views are each rank's own (rank 0 alone: the one-process stream)
        self.view_gen = (rank_generator(cfg.seed, self.dist.rank) if self.dist.enabled
                         else torch.Generator().manual_seed(cfg.seed + 1))
        self.train_x = data.train_x.to(self.device)
        self.state = VisualTrainState()
        self.progress = progress

    # -- one epoch ---------------------------------------------------------------------------
    def _peer_step(self, images: Tensor) -> Tensor:
        v1, v2 = self.views(images, self.view_gen), self.views(images, self.view_gen)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            return self.net(v1, v2)

    def _step(self, images: Tensor, use_knn: bool, ids: Optional[Tensor] = None) -> float:
        """One optimiser step on ``images``, this rank's part of the batch (``ids``: the
        global batch's rows in the training set, read by the memory bank only)."""
        if 'peer' in self.model:
            loss = self._peer_step(images)
            self._check_finite(loss)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            self.model['peer'].after_step(self.model['backbone'], self.cfg.ema)
            return loss.item()
        v = torch.cat([self.views(images, self.view_gen), self.views(images, self.view_gen)])
        targets = None
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            z = self.net(v)  # projector (and predictor, target: ema) outputs
            teacher = None
            if (use_knn and self.teacher is not None) or self.target_projector is not None:
                with torch.no_grad():
                    features = self.teacher(v)
                    teacher = features.float() if use_knn else None
                    if self.target_projector is not None:
                        targets = self.target_projector(features).float()
        # the global batch: every rank's views, in the order of the global batch's rows
        z = gather_views(z, self.dist)
        b = z.size(0) // 2
        if teacher is not None:
            teacher = gather_views(teacher, self.dist)
        if targets is not None:
            targets = gather_views(targets, self.dist)
        reads_bank = use_knn and self.bank is not None and self.bank.full
        # P from the batch alone, unless the bank's P (built below, from z) replaces it
        p = None if reads_bank else self.similarity(b, teacher)
        z = z.float()
        if self.cfg.latent_radius > 0:  # Q on a sphere: the kernel sees a fixed scale
            z = nn.functional.normalize(z, dim=1) * self.cfg.latent_radius
            if targets is not None:
                targets = nn.functional.normalize(targets, dim=1) * self.cfg.latent_radius
        no_repulsion = (teacher_false_negatives(teacher, b, self.cfg.false_negatives)
                        if teacher is not None and self.cfg.false_negatives else None)
        if reads_bank:
            bank_ids = ids.to(self.device).repeat(2)
            p, no_repulsion = bank_similarity(z.detach(), bank_ids, self.bank, self.cfg.k,
                                              self.cfg.view_weight,
                                              agree=self.cfg.memory_bank_agree)
            loss = self.loss_fn(z, p, no_repulsion=no_repulsion, columns=self.bank.points)
        # (the false-negative mask and the EMA targets never reach the sampled form below:
        # __init__ refuses them above ALL_PAIRS_MAX)
        elif z.size(0) <= ALL_PAIRS_MAX:
            loss = self.loss_fn(z, p, no_repulsion=no_repulsion, targets=targets)
        else:
            loss = self.loss_fn.sampled(z, p, num_pos=8 * z.size(0), num_neg=32 * z.size(0),
                                        generator=self.view_gen)
        if self.cfg.repulsion == 'decorrelation':  # the views stacked view by view
            loss = loss + self.cfg.decorrelation_weight * decorrelation_loss(
                z, self.cfg.latent_radius, 2)
        elif self.cfg.repulsion == 'student_t+decorrelation':
            loss = loss + self.cfg.decorrelation_weight * correlation_loss(z, 2)
        self._check_finite(loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        if self.teacher is not None:
            ema_update(self.teacher, self.model['backbone'], self.cfg.ema)
        if self.target_projector is not None:
            ema_update(self.target_projector, self.model['projector'], self.cfg.ema)
        if self.bank is not None:  # filled from the first step, read from knn_start
            self.bank.push(z[:b].detach(), ids.to(self.device))  # the same on every rank
        return loss.item()

    def _check_finite(self, loss: Tensor) -> None:
        if not torch.isfinite(loss):
            raise FloatingPointError(f'the loss became {loss.item()} at epoch '
                                     f'{self.state.epoch + 1}; lower lr ({self.cfg.lr})')

    def fit(self, checkpoint: Optional[Path] = None,
            stop_after: Optional[int] = None) -> nn.Module:
        """Trains for the configured epochs (resuming from ``checkpoint`` when it exists)
        and returns the backbone. ``stop_after``: return after that many epochs in all (the
        schedule still spans ``epochs``; a later call continues), as a killed run would."""
        cfg = self.cfg
        if checkpoint is not None and Path(checkpoint).is_file():
            self.load_checkpoint(checkpoint)
        last = cfg.epochs if stop_after is None else min(cfg.epochs, stop_after)
        while self.state.epoch < last:
            start = time.perf_counter()
            self.model.train()
            if self.teacher is not None:
                self.teacher.train()
            if self.target_projector is not None:
                self.target_projector.train()
            order = torch.randperm(self.train_x.size(0), generator=self.order_gen)
            use_knn = self.state.epoch >= cfg.knn_start and (
                self.teacher is not None or self.bank is not None)
            total = 0.0
            mine = slice(self.dist.rank * self.local_batch, (self.dist.rank + 1) * self.local_batch)
            for step in range(self.steps_per_epoch):
                idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
                loss = self._step(self.train_x[idx[mine].to(self.device)], use_knn, idx)
                total += loss
                if self.progress is not None:
                    done = (step + 1) * cfg.batch_size
                    rate = done / max(time.perf_counter() - start, 1e-9)
                    self.progress(self.state.epoch + 1, step + 1, self.steps_per_epoch, loss,
                                  rate)
            self.state.epoch += 1
            self.state.losses.append(total / self.steps_per_epoch)
            self.state.images += self.steps_per_epoch * cfg.batch_size
            self.state.seconds += time.perf_counter() - start
            if cfg.monitor_every and self.state.epoch % cfg.monitor_every == 0 \
                    and self.state.epoch < cfg.epochs:
                self.state.knn.append({'epoch': self.state.epoch, 'accuracy': self.knn_monitor()})
            if checkpoint is not None:
                self.save_checkpoint(checkpoint)
        return self.model['backbone']

    # -- features and the monitor ------------------------------------------------------------
    @torch.no_grad()
    def embed(self, images: Tensor, batch_size: int = 512) -> Tensor:
        """Backbone features ``[N, D]`` of unaugmented, normalised images (eval mode)."""
        if images.dim() != 4 or tuple(images.shape[1:]) != tuple(self.data.train_x.shape[1:]):
            raise ValueError(f'images must be [N, {", ".join(map(str, self.data.shape))}], '
                             f'got {tuple(images.shape)}')
        backbone = self.model['backbone']
        was = backbone.training
        backbone.eval()
        out = []
        for chunk in images.split(batch_size):
            x = self.views.normalize(chunk.to(self.device))
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                out.append(backbone(x).float().cpu())
        backbone.train(was)
        return torch.cat(out)

    def knn_monitor(self) -> float:
        """Weighted kNN accuracy (``knn_k``, ``knn_temperature``) of the test images against
        the training images, frozen features."""
        from ..evaluation.image import knn_accuracy
        return knn_accuracy(self.embed(self.data.train_x), self.data.train_y,
                            self.embed(self.data.test_x), self.data.test_y,
                            k=self.cfg.knn_k, temperature=self.cfg.knn_temperature)

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self, path: Path) -> None:
        """Rank 0 writes ``path`` (under torchrun every rank must call this: it gathers the
        ranks' view streams first)."""
        view_gens = gather_objects(self.view_gen.get_state(), self.dist)
        if not self.dist.is_main:
            return
        atomic_torch_save({
            'model': self.model.state_dict(),
            'teacher': None if self.teacher is None else self.teacher.state_dict(),
            'target_projector': (None if self.target_projector is None
                                 else self.target_projector.state_dict()),
            'bank': None if self.bank is None else self.bank.state_dict(),
            'optimizer': self.optimizer.state_dict(), 'scheduler': self.scheduler.state_dict(),
            'order_gen': self.order_gen.get_state(), 'view_gen': view_gens[0],
            'view_gens': view_gens,
            'state': vars(self.state), 'config': self.cfg.to_dict()}, Path(path))

    def load_checkpoint(self, path: Path) -> None:
        blob = torch.load(Path(path), map_location=self.device, weights_only=False)
        saved = checkpoint_config(blob)
        if saved != self.cfg.to_dict():
            diff = config_differences(saved or {}, self.cfg.to_dict())
            raise ValueError(f'checkpoint {path} was written with another config '
                             f'({"; ".join(diff)}); use a new checkpoint path or the same '
                             f'settings')
        self.restore(blob)

    def restore(self, blob: dict) -> None:
        """Continues the run a :meth:`save_checkpoint` blob holds: parameters, teacher,
        optimiser moments, schedule position, random streams and progress (the caller
        checks that its config may continue it)."""
        self.model.load_state_dict(blob['model'])
        if self.teacher is not None:
            self.teacher.load_state_dict(blob['teacher'])
        if self.target_projector is not None:
            self.target_projector.load_state_dict(blob['target_projector'])
        self.optimizer.load_state_dict(blob['optimizer'])
        # a blob without a bank (a run or trunk without one) starts this bank empty
        if self.bank is not None and blob.get('bank') is not None:
            self.bank.load_state_dict(blob['bank'])
        self._restore_progress(blob)

    def _restore_progress(self, blob: dict) -> None:
        self.scheduler.load_state_dict(blob['scheduler'])
        self.order_gen.set_state(blob['order_gen'])
        self.state = VisualTrainState(**blob['state'])
        streams = blob.get('view_gens') or [blob['view_gen']]
        if len(streams) == self.dist.world_size:
            self.view_gen.set_state(streams[self.dist.rank])
        else:  # another number of processes: rank 0 continues, the others start afresh
            warnings.warn(f'the checkpoint was written by {len(streams)} process(es), this '
                          f'run has {self.dist.world_size}: the views after the resume differ '
                          "from an uninterrupted run's", stacklevel=2)
            if self.dist.is_main:
                self.view_gen.set_state(streams[0])
            else:
                self.view_gen = rank_generator(self.cfg.seed, self.dist.rank, self.state.epoch)

    def start_target(self, blob: dict) -> None:
        """Continues a run written *without* the EMA target (``target: online``; a
        :meth:`save_checkpoint` blob) with this trainer's ``target: ema`` from here on, as
        BYOL starts: the backbone, projector, optimiser moments, schedule, random streams and
        progress are the blob's; the predictor is freshly initialised (its optimiser moments
        start at zero); the teacher and the target projector start as copies of the online
        backbone and projector. For late-branch experiments
        (``experiments/ssl_branches.py``)."""
        if self.target_projector is None:
            raise ValueError("start_target needs a trainer with ssl config 'target: ema'")
        saved = blob['model']
        if any(key.startswith('predictor.') for key in saved):
            raise ValueError('the checkpoint already has a predictor: restore() continues it')
        missing, unexpected = self.model.load_state_dict(saved, strict=False)
        if unexpected or any(not key.startswith('predictor.') for key in missing):
            raise ValueError(f'the checkpoint does not fit this model (missing '
                             f'{[k for k in missing if not k.startswith("predictor.")]}, '
                             f'unexpected {unexpected})')
        self.teacher.load_state_dict(self.model['backbone'].state_dict())
        self.target_projector.load_state_dict(self.model['projector'].state_dict())
        # The optimiser's one parameter group lists the model's parameters in order, the
        # predictor's last: the blob's indices cover the others, the predictor's get none.
        state = copy.deepcopy(blob['optimizer'])
        if len(state['param_groups']) != 1:
            raise ValueError(f"start_target expects the trainer's one optimiser parameter "
                             f"group, the checkpoint has {len(state['param_groups'])}")
        group = state['param_groups'][0]
        group['params'] = list(range(sum(1 for _ in self.model.parameters())))
        self.optimizer.load_state_dict(state)
        self._restore_progress(blob)
