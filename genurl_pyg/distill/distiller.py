"""The distillation loop: a frozen teacher, a student, one objective, anchor batches."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Union

import torch
from torch import Tensor

from .._validation import check_features, check_images
from ..node.trainer import seed_everything
from ..utils.devices import resolve_device
from .config import DistillConfig
from .objective import DistillObjective, GenURLObjective
from .peers import (LogitObjective, PKTObjective, RegressionObjective, RKDObjective,
                    SEEDObjective)
from .students import build_student, embed_rows, first_output, reads_sparse_rows

Teacher = Union[Tensor, torch.nn.Module, Callable[..., Tensor]]
CHECKPOINT_KEYS = ('student', 'objective', 'objective_state', 'optimizer', 'epoch', 'losses',
                   'config', 'teacher_fingerprint', 'rng', 'torch_rng', 'seconds')


@dataclass
class DistillState:
    epoch: int = 0
    losses: List[float] = field(default_factory=list)
    seconds: float = 0.0  # spent by earlier processes (restored on resume)


@torch.no_grad()
def teacher_embeddings(teacher: Teacher, x: Tensor,
                       edge_index: Optional[Tensor] = None,
                       transform: Optional[Callable[[Tensor], Tensor]] = None,
                       batch_size: int = 512) -> Tensor:
    """The teacher's ``[N, d_t]`` embeddings of the rows of ``x``: ``teacher`` itself when it
    is a tensor, else ``teacher(x, edge_index)`` (or ``teacher(x)`` without a graph) in eval
    mode, without gradients. With ``transform`` (images: the evaluation normalisation), the
    module reads ``transform(chunk)`` for chunks of ``batch_size`` rows on its own device, so
    memory stays O(batch) however many images there are. Checked: 2-D, finite, one row per
    row of ``x``."""
    if isinstance(teacher, Tensor):
        t = teacher
    elif callable(teacher) and transform is not None:  # images, chunk by chunk
        t = embed_rows(teacher, x, batch_size, transform)
    elif callable(teacher):
        was = getattr(teacher, 'training', None)
        if isinstance(teacher, torch.nn.Module):
            teacher.eval()
        try:
            t = teacher(x) if edge_index is None else teacher(x, edge_index)
        finally:
            if was:
                teacher.train()
        t = first_output(t)
    else:
        raise TypeError(f"'teacher' must be a tensor of embeddings or a module, got "
                        f"{type(teacher).__name__}")
    t = check_features(t.detach().float(), 'teacher embeddings', min_rows=3)
    if t.size(0) != x.size(0):
        raise ValueError(f"the teacher embeddings have {t.size(0)} rows but the student's "
                         f"input has {x.size(0)}: one teacher row per node (or sample) is "
                         "needed; was the teacher run on a different graph or split?")
    return t.cpu()


def load_teacher(module: torch.nn.Module, state_dict) -> torch.nn.Module:
    """``module`` with the weights ``state_dict`` (a dict, or a path to a ``torch.save``
    file of one), frozen and in eval mode. A file that cannot be read, or weights that do not
    fit the architecture (missing, unexpected or differently shaped tensors), is a
    ``ValueError`` that lists what does not fit."""
    if not isinstance(state_dict, dict):
        from ..utils.io import load_torch_file
        path = Path(state_dict)
        state_dict = load_torch_file(path, 'teacher weights')
        if not isinstance(state_dict, dict):
            raise ValueError(f"teacher weights {str(path)!r} do not hold a state_dict")
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [f'{k}: {tuple(state_dict[k].shape)} given, {tuple(own[k].shape)} expected'
              for k in own if k in state_dict and hasattr(state_dict[k], 'shape')
              and tuple(state_dict[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = ([f"missing {missing[:5]}"] if missing else []) + (
            [f"unexpected {unexpected[:5]}"] if unexpected else []) + shapes[:5]
        raise ValueError("the teacher's weights do not fit its architecture (" +
                         '; '.join(parts) + '): was the state_dict saved from another model '
                         'or width?')
    module.load_state_dict(state_dict)
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def fingerprint(t: Tensor) -> List[float]:
    """A cheap identity of the teacher embeddings a checkpoint was trained against."""
    t = t.double()
    return [float(t.size(0)), float(t.size(1)), float(t.sum()), float(t.abs().sum())]


def build_objective(teacher: Tensor, cfg: DistillConfig,
                    edge_index: Optional[Tensor] = None,
                    inputs: Optional[Tensor] = None,
                    labels: Optional[Tensor] = None) -> DistillObjective:
    if labels is not None and cfg.objective != 'glnn':
        raise ValueError(f"'labels' are read by the glnn objective only (objective "
                         f"{cfg.objective!r} is label-free); drop them, or set objective "
                         "'glnn'")
    if cfg.objective == 'glnn':
        return LogitObjective(teacher, cfg, labels)
    if cfg.objective == 'genurl':
        return GenURLObjective(teacher, cfg, edge_index, inputs)
    if cfg.objective in ('mse', 'cosine'):
        return RegressionObjective(teacher, cfg, cfg.objective)
    return {'rkd': RKDObjective, 'pkt': PKTObjective, 'seed': SEEDObjective}[cfg.objective](
        teacher, cfg)


class GenURLDistiller:
    r"""Unsupervised distillation of a frozen teacher into a (graph-free) student.

    Per epoch every training row is an anchor once, in batches of ``batch_size``; the
    objective decides which rows go through the student (GenURL: the anchors' sampled
    positives and negatives; the peers: the anchors). A step costs O(B (r + m) · student)
    for GenURL, O(B · student) plus the peer's relation (PKT O(B^2 d), RKD O(B · 64^2 d))
    for the peers; memory is O(N k) for P plus the student. The student never reads a graph,
    so :meth:`embed` of new rows costs one forward pass per row (with ``bank_k``, plus the
    teacher bank's lookup, :math:`O(N D')` per row against the N training rows:
    :class:`~genurl_pyg.distill.bank.TeacherBank`).

    Args:
        teacher: ``[N, d_t]`` teacher embeddings, or a frozen module called as
            ``teacher(x, edge_index)`` (``teacher(x)`` without ``edge_index``; for images
            ``teacher(views.normalize(chunk))`` chunk by chunk).
        x (Tensor): ``[N, D]`` student input (node features) of the same rows, or images
            ``[N, C, H, W]`` (``uint8`` or float in [0, 1]; kept in their dtype, a view is
            drawn per anchor batch).
        config (DistillConfig, optional): settings (defaults otherwise).
        student (Module, optional): the student; default :func:`build_student`
            (its output must be ``out_channels`` wide for the peers' heads).
        edge_index (Tensor, optional): the data's graph on these rows: the teacher's input
            when it is a module, and P's predefined part when ``use_graph``.
        progress (callable, optional): ``progress(epoch, loss)`` after each epoch.
        views (BatchViews, optional): required for image rows: each step the student reads
            one random view per row (:class:`~genurl_pyg.vision.views.BatchViews`, drawn
            from the run's generator), and :meth:`embed` its ``normalize``. P is the static
            one built from the teacher's embeddings of the unaugmented images, unless
            ``teacher_views``: then the teacher module reads the same view each step and the
            objective its features of it (GenURL: the batch's block of P rebuilt from them),
            at one teacher forward per step.
        labels (Tensor, optional): ``[N]`` classes (``-1``: none) for the supervised
            reference objective ``'glnn'`` only (its cross-entropy term); every other
            objective is label-free and refuses them.
    """

    def __init__(self, teacher: Teacher, x: Tensor, config: Optional[DistillConfig] = None,
                 student: Optional[torch.nn.Module] = None,
                 edge_index: Optional[Tensor] = None,
                 progress: Optional[Callable[[int, float], None]] = None,
                 views=None, labels: Optional[Tensor] = None) -> None:
        self._started = time.perf_counter()
        self.images = isinstance(x, Tensor) and x.dim() == 4
        self.cfg = (config or DistillConfig()).validate().resolved(self.images)
        if self.cfg.batch_neighbours and self.cfg.pairs != 'block':
            raise ValueError("distill config 'batch_neighbours' fills the batch's block of P, "
                             f"but these rows resolve to pairs {self.cfg.pairs!r}; set pairs "
                             "'block', or batch_neighbours 0")
        if self.images:
            x = check_images(x, 'x', min_rows=3)
            if views is None:
                raise ValueError("image rows need 'views' (a genurl_pyg.vision.BatchViews: "
                                 'the random views the student reads and the normalisation '
                                 'of embed)')
            if self.cfg.feature_mask > 0:
                raise ValueError("distill config 'feature_mask' masks feature columns; image "
                                 "rows get their views from 'views' (set feature_mask to 0)")
        else:
            x = check_features(x, 'x', min_rows=3)
            if views is not None:
                raise ValueError("'views' applies to image rows [N, C, H, W]; these rows are "
                                 'node features (use feature_mask for a view of them)')
        self.views = views
        self._check_teacher_views(teacher)
        self._check_view_pairs()
        # with teacher_views the module runs on every step's view (frozen, eval mode)
        self.teacher_module = teacher if self.cfg.teacher_views else None
        self._view = None  # (rows, teacher features) of the last view drawn
        self.device = resolve_device(self.cfg.device)
        self.teacher = teacher_embeddings(teacher, x, edge_index,
                                          transform=views.normalize if self.images else None)
        if self.cfg.batch_size > x.size(0):
            raise ValueError(f"distill config 'batch_size' ({self.cfg.batch_size}) is larger "
                             f"than the {x.size(0)} training rows; lower it")
        self.bank = None
        if self.cfg.bank_k:
            if self.images:
                raise ValueError("distill config 'bank_k' looks node features up in the "
                                 'training rows; image rows have no such code (set bank_k 0)')
            if self.cfg.bank_k >= x.size(0):
                raise ValueError(f"distill config 'bank_k' ({self.cfg.bank_k}) must be "
                                 f'smaller than the {x.size(0)} training rows')
            from .bank import TeacherBank
            self.bank = TeacherBank(x, self.teacher, self.cfg.bank_k, seed=self.cfg.seed)
        self.generator = seed_everything(self.cfg.seed)
        # images stay in their dtype (uint8: a quarter of float32's memory); a view is made
        # per batch
        self.x = (x if self.images else x.float()).to(self.device)
        self.objective = build_objective(self.teacher, self.cfg, edge_index,
                                         self._input_rows(x), labels).to(self.device)
        if self.teacher_module is not None:
            self.objective.set_view_teacher(self._view_teacher)
        in_shape = tuple(x.shape[1:]) if self.images else x.size(1)
        self.student = (student if student is not None
                        else build_student(in_shape, self.cfg)).to(self.device)
        self.sparse_batches = self._reads_sparse_batches()
        params = list(self.student.parameters()) + list(self.objective.parameters())
        self.optimizer = torch.optim.Adam(params, lr=self.cfg.lr,
                                          weight_decay=self.cfg.weight_decay)
        self.progress = progress
        self.state = DistillState()

    def _check_teacher_views(self, teacher: Teacher) -> None:
        """``teacher_views`` needs image rows, a teacher module to run on the views, and for
        GenURL the block relation (the refreshed P is the batch's block)."""
        if not self.cfg.teacher_views:
            return
        if not self.images:
            raise ValueError("distill config 'teacher_views' runs the teacher on the "
                             "student's image views; these rows are node features (set "
                             'teacher_views to false)')
        if isinstance(teacher, Tensor) or not callable(teacher):
            raise ValueError("distill config 'teacher_views' runs the teacher on each step's "
                             'view, so the teacher must be a module (a backbone, an ssl run '
                             'folder or a state_dict file), not precomputed features')
        if self.cfg.objective == 'genurl':
            self._require_block('teacher_views', "rebuilds the batch's block of P from the "
                                "teacher's view features")

    def _check_view_pairs(self) -> None:
        """``view_pair_weight`` needs two different views of a row (images, or node rows
        with ``feature_mask``) and the block relation (its pairs are the block's)."""
        if not self.cfg.view_pair_weight:
            return
        if not self.images and not self.cfg.feature_mask:
            raise ValueError("distill config 'view_pair_weight' pairs two views of each row; "
                             'node rows have none without feature_mask (set feature_mask > 0, '
                             'or view_pair_weight to 0)')
        self._require_block('view_pair_weight', "puts two views of each row in the batch's "
                            'block of P')

    def _require_block(self, key: str, does: str) -> None:
        """A setting that works on the batch's block of P needs ``pairs: block`` once
        resolved (images resolve ``'auto'`` to ``'sampled'``, which the config's own check
        cannot see)."""
        if self.cfg.pairs != 'block':
            raise ValueError(f"distill config '{key}' {does}; pairs {self.cfg.pairs!r} draws "
                             "pairs from the static P (set pairs 'block')")

    def _view_teacher(self, rows: Tensor) -> Tensor:
        """The teacher's features of the view that the last :meth:`_encode` of ``rows`` drew
        (what the objectives read with ``teacher_views``)."""
        if self._view is None or not torch.equal(self._view[0], rows.cpu()):
            raise RuntimeError("the objective asked for the teacher's view of rows the "
                               'student has not just encoded (teacher_views needs encode(rows) '
                               'first, on the same rows)')
        return self._view[1]

    def _input_rows(self, x: Tensor) -> Optional[Tensor]:
        """The rows ``input_weight``'s part of P is built on: node features as given; for
        images the unaugmented pixels, normalised as :meth:`embed` reads them and
        flattened (what the no-teacher student's P is built on), only when that part is
        asked for (``[N, C H W]`` float32: 15 MB for 5,000 Fashion-MNIST images)."""
        if not self.images:
            return x
        if not (self.cfg.objective == 'genurl' and self.cfg.input_weight > 0):
            return None
        return torch.cat([self.views.normalize(chunk).flatten(1)
                          for chunk in x.split(4096)])

    # -- training ---------------------------------------------------------------------------
    def _reads_sparse_batches(self) -> bool:
        """Whether training batches reach the student as CSR: feature rows under
        :data:`~genurl_pyg.node.inputs.SPARSE_INPUT_DENSITY` non-zeros (bag-of-words) and a
        student whose first op is a Linear. Its forward and weight gradient then cost
        O(nnz h) instead of O(B D h) (same function; about 2x per step on Physics' 8,415
        columns, 0.39 % non-zero). Decided once, from a sample of rows."""
        if self.images or not reads_sparse_rows(self.student):
            return False
        from ..node.inputs import LAYOUT_SAMPLE_ROWS, SPARSE_INPUT_DENSITY, density
        return density(self.x, LAYOUT_SAMPLE_ROWS) < SPARSE_INPUT_DENSITY

    def _encode(self, rows: Tensor) -> Tensor:
        x = self.x[rows.to(self.device)]
        if self.images:  # one random view per image, parameters from the run's generator
            view = self.views(x, self.generator)
            if self.teacher_module is not None:  # the teacher sees the same view (frozen:
                # eval mode for the pass, no gradient, its own mode restored after)
                self._view = (rows.cpu(), embed_rows(self.teacher_module, view, view.size(0)))
            return self.student(view)
        if self.cfg.feature_mask > 0:  # one column mask per step: a view of the input
            keep = torch.rand(x.size(1), generator=self.generator) >= self.cfg.feature_mask
            x = x * keep.to(x.device, x.dtype)
        if self.sparse_batches:
            from ..node.inputs import dense_to_csr
            x = dense_to_csr(x)
        return self.student(x)

    def run_epoch(self) -> float:
        self.student.train()
        n, b = self.x.size(0), self.cfg.batch_size
        perm = torch.randperm(n, generator=self.generator)
        losses = []
        for anchors in self._batches(perm, b):
            if anchors.numel() < 3:  # a tail too small for a relation: skip it
                continue
            self.optimizer.zero_grad()
            loss = self.objective.loss(self._encode, anchors, self.generator)
            if not torch.isfinite(loss):
                raise FloatingPointError(f'loss became {loss.item()} at epoch '
                                         f"{self.state.epoch}; lower 'lr'")
            loss.backward()
            self.optimizer.step()
            losses.append(loss.item())
        return float(sum(losses) / len(losses))

    def _batches(self, perm: Tensor, b: int):
        """One epoch's batches: ``perm`` cut into ``b`` rows, or with ``batch_neighbours`` m
        the same number of steps, each of ``b / (1 + m)`` seeds taken in ``perm``'s order
        and their m neighbours in P (:func:`~genurl_pyg.nn.sampling.neighbour_batch`)."""
        m = self.cfg.batch_neighbours
        if not m:
            yield from perm.split(b)
            return
        from ..nn.sampling import neighbour_batch
        steps, per_step = -(-perm.numel() // b), max(1, b // (1 + m))
        for seeds in perm.split(per_step)[:steps]:
            yield neighbour_batch(self.objective.sim, seeds, m, self.generator,
                                  self.objective._rowptr).to(perm.device)

    def fit(self, checkpoint: Optional[Path] = None,
            checkpoint_every: int = 25) -> torch.nn.Module:
        """Trains until ``epochs`` (continuing a loaded checkpoint); returns the student."""
        while self.state.epoch < self.cfg.epochs:
            loss = self.run_epoch()
            self.state.epoch += 1
            self.state.losses.append(loss)
            if self.progress is not None:
                self.progress(self.state.epoch, loss)
            if checkpoint is not None and self.state.epoch % checkpoint_every == 0:
                self.save_checkpoint(checkpoint)
        self.student.eval()
        return self.student

    def fit_resuming(self, checkpoint=None) -> torch.nn.Module:
        """:meth:`fit`, first continuing ``checkpoint`` when that file exists (it is written
        every 25 epochs); returns the student."""
        if checkpoint is not None:
            checkpoint = Path(checkpoint)
            if checkpoint.exists():
                self.load_checkpoint(checkpoint)
        return self.fit(checkpoint)

    def embed(self, x: Optional[Tensor] = None, batch_size: Optional[int] = None) -> Tensor:
        """The student's ``[M, out]`` embeddings of ``x`` (default: the training rows), from
        the features (or the unaugmented, normalised images) alone, on the CPU;
        ``batch_size`` rows at a time (default 65,536 feature rows, 512 images). With
        ``bank_k`` the teacher bank's code of each row follows (``[M, out + d_t]``).
        Feature rows may be stored sparse (CSR or COO): an MLP student reads them as CSR,
        O(nnz h) for its first layer, with no dense copy of ``x``."""
        if self.images:
            x = self.x if x is None else check_images(x, 'x')
            if tuple(x.shape[1:]) != tuple(self.x.shape[1:]):
                raise ValueError(f"'x' holds images of shape {tuple(x.shape[1:])} but the "
                                 f'student was trained on {tuple(self.x.shape[1:])}')
            return embed_rows(self.student, x, batch_size or 512, self.views.normalize)
        x = self.x if x is None else check_features(x, 'x', sparse=True)
        if x.size(1) != self.x.size(1):
            raise ValueError(f"'x' has {x.size(1)} columns but the student was trained on "
                             f"{self.x.size(1)}")
        batch_size = batch_size or 65536
        out = embed_rows(self.student, x, batch_size,
                         sparse_rows=reads_sparse_rows(self.student))
        if self.bank is not None:  # the structural code beside the student's output
            # chunk by chunk like the student (rows stored sparse are made dense one
            # chunk at a time: memory O(batch_size D), not O(N D))
            out = torch.cat([out, embed_rows(self.bank, x.cpu(), batch_size)], dim=1)
        return out

    @property
    def elapsed_seconds(self) -> float:
        return self.state.seconds + time.perf_counter() - self._started

    # -- checkpoints ------------------------------------------------------------------------
    def save_checkpoint(self, path: Path) -> None:
        from ..utils.io import atomic_torch_save
        atomic_torch_save({'student': self.student.state_dict(),
                           'objective': self.objective.state_dict(),
                           'objective_state': self.objective.state(),
                           'optimizer': self.optimizer.state_dict(),
                           'epoch': self.state.epoch, 'losses': self.state.losses,
                           'config': self.cfg.to_dict(),
                           'teacher_fingerprint': fingerprint(self.teacher),
                           'rng': self.generator.get_state(),
                           'torch_rng': torch.get_rng_state(),
                           'seconds': self.elapsed_seconds}, Path(path))

    def load_checkpoint(self, path: Path) -> None:
        """Restores :meth:`save_checkpoint`; a different config or teacher, or a file that is
        not such a checkpoint, is a ``ValueError`` that says what to do."""
        from ..utils.io import read_checkpoint
        advice = 'delete it to restart from scratch'
        state = read_checkpoint(path, CHECKPOINT_KEYS, self.cfg.to_dict(), self.device,
                                what='genurl-pyg distill checkpoint', advice=advice)
        if not torch.allclose(torch.tensor(state['teacher_fingerprint']),
                              torch.tensor(fingerprint(self.teacher)), rtol=1e-6):
            raise ValueError(f'checkpoint {path} was trained against different teacher '
                             f'embeddings; resume needs the same teacher, or {advice}')
        self.student.load_state_dict(state['student'])
        self.objective.load_state_dict(state['objective'])
        self.objective.load_state(state['objective_state'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.state = DistillState(state['epoch'], list(state['losses']), float(state['seconds']))
        self.generator.set_state(state['rng'])
        torch.set_rng_state(state['torch_rng'])

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(rows={self.x.size(0)}, '
                f'teacher_dim={self.teacher.size(1)}, objective={self.cfg.objective!r}, '
                f'student={self.cfg.student!r}'
                + (f', bank_k={self.cfg.bank_k}' if self.bank is not None else '') + ')')
