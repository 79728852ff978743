r"""The distillation peers, on the same student, batches and budget as GenURL.

* ``'mse'`` / ``'cosine'``: regression of the teacher's embeddings, standardised per column
  (mean squared error, or 1 − cosine similarity); a Linear head maps the student's output to
  the teacher's width when they differ.
* ``'rkd'``: relational KD (Park et al., CVPR 2019): distance and angle relations of the
  batch, torchdistill's :class:`RKDLoss`. The angle term is O(G^3 d) per group of G rows,
  so the anchors are split into groups of :data:`RKD_GROUP` = 64 and the group losses
  averaged (groups of 128 made RKD 20x slower than the other peers on Cora: > 5 min for
  100 epochs on one core).
* ``'pkt'``: probabilistic KT (Passalis & Tefas, ECCV 2018): KL between the batch's cosine
  affinity distributions, torchdistill's :class:`PKTLoss`. O(B^2 d).
* ``'seed'``: SEED (Fang et al., ICLR 2021): a FIFO queue of L2-normalised teacher embeddings;
  the student's (through a Linear head to the teacher's width, normalised) softmax similarity
  over ``[queue, own teacher embedding]`` is matched by cross-entropy to the teacher's, both
  at ``temperature``. O(B (L + 1) d_t).

Every peer reads only teacher rows of its anchors: no P, no graph. With ``teacher_views``
(images) those rows are the teacher's features of the step's view
(:meth:`~genurl_pyg.distill.objective.DistillObjective.teacher_rows`).

A supervised reference beside them: ``'glnn'`` (GLNN, Zhang et al., ICLR 2022), the teacher
given as class logits and matched by KL, plus cross-entropy on labelled rows
(:class:`LogitObjective`).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .._optional import require
from .config import DistillConfig
from .objective import DistillObjective, Encode

RKD_GROUP = 64


def _head(student_out: int, teacher_dim: int, always: bool = False) -> torch.nn.Module:
    if always or student_out != teacher_dim:
        return torch.nn.Linear(student_out, teacher_dim)
    return torch.nn.Identity()


class RegressionObjective(DistillObjective):
    """``'mse'`` or ``'cosine'`` regression of the standardised teacher embeddings."""

    def __init__(self, teacher: Tensor, cfg: DistillConfig, kind: str = 'mse') -> None:
        super().__init__()
        if kind not in ('mse', 'cosine'):
            raise ValueError(f"'kind' must be 'mse' or 'cosine', got {kind!r}")
        self.kind = kind
        # the column statistics of the static teacher rows; with teacher_views they also
        # standardise the teacher's features of each view (a view's batch is too small and
        # too correlated to standardise by its own statistics)
        self.register_buffer('mean', teacher.mean(0), persistent=False)
        self.register_buffer('std', teacher.std(0) + 1e-8, persistent=False)
        self.register_buffer('target', self.standardise(teacher), persistent=False)
        self.head = _head(cfg.out_channels, teacher.size(1))

    def standardise(self, t: Tensor) -> Tensor:
        return (t - self.mean.to(t.device)) / self.std.to(t.device)

    def loss(self, encode: Encode, anchors: Tensor,
             generator: Optional[torch.Generator] = None) -> Tensor:
        pred = self.head(encode(anchors))
        target = self.teacher_rows(self.target, anchors, pred, self.standardise)
        if self.kind == 'mse':
            return F.mse_loss(pred, target)
        return (1 - F.cosine_similarity(pred, target, dim=1)).mean()


class RKDObjective(DistillObjective):
    """RKD distance + angle (torchdistill), in groups of :data:`RKD_GROUP` anchors."""

    def __init__(self, teacher: Tensor, cfg: DistillConfig) -> None:
        super().__init__()
        mid = require('torchdistill.losses.mid_level', "distill objective 'rkd'")
        self.criterion = mid.RKDLoss('student', 'teacher', cfg.rkd_distance, cfg.rkd_angle,
                                     'mean')
        self.register_buffer('teacher', teacher, persistent=False)

    def loss(self, encode: Encode, anchors: Tensor,
             generator: Optional[torch.Generator] = None) -> Tensor:
        s = encode(anchors)
        t = self.teacher_rows(self.teacher, anchors, s)
        groups = [(a, b) for a, b in zip(s.split(RKD_GROUP), t.split(RKD_GROUP))
                  if a.size(0) >= 3]  # an angle needs three points
        if not groups:
            raise ValueError("objective 'rkd' needs batches of at least 3 rows")
        return sum(self.criterion({'student': {'output': a}}, {'teacher': {'output': b}})
                   for a, b in groups) / len(groups)


class PKTObjective(DistillObjective):
    """PKT (torchdistill): KL between the batch's cosine-affinity distributions."""

    def __init__(self, teacher: Tensor, cfg: DistillConfig) -> None:
        super().__init__()
        mid = require('torchdistill.losses.mid_level', "distill objective 'pkt'")
        self.criterion = mid.PKTLoss('student', 'output', 'teacher', 'output')
        self.register_buffer('teacher', teacher, persistent=False)

    def loss(self, encode: Encode, anchors: Tensor,
             generator: Optional[torch.Generator] = None) -> Tensor:
        s = encode(anchors)
        t = self.teacher_rows(self.teacher, anchors, s)
        return self.criterion({'student': {'output': s}}, {'teacher': {'output': t}})


class SEEDObjective(DistillObjective):
    """SEED: cross-entropy between teacher and student similarity distributions over a
    queue of teacher embeddings (the anchor's own teacher embedding appended)."""

    def __init__(self, teacher: Tensor, cfg: DistillConfig) -> None:
        super().__init__()
        self.register_buffer('teacher', F.normalize(teacher, dim=1), persistent=False)
        self.head = _head(cfg.out_channels, teacher.size(1), always=True)
        self.temperature = cfg.temperature
        self.queue = torch.zeros(0, teacher.size(1))  # not a buffer: its size changes
        self.size = cfg.queue_size

    def loss(self, encode: Encode, anchors: Tensor,
             generator: Optional[torch.Generator] = None) -> Tensor:
        s = F.normalize(self.head(encode(anchors)), dim=1)
        t = self.teacher_rows(self.teacher, anchors, s,
                              lambda v: F.normalize(v.float(), dim=1))
        bank = self.queue.to(s.device)
        # logits over [queue, own]: the own column is the teacher embedding of each row
        t_logits = torch.cat([t @ bank.T, (t * t).sum(1, keepdim=True)], 1) / self.temperature
        s_logits = torch.cat([s @ bank.T, (s * t).sum(1, keepdim=True)], 1) / self.temperature
        loss = -(F.softmax(t_logits, 1) * F.log_softmax(s_logits, 1)).sum(1).mean()
        with torch.no_grad():  # enqueue this batch's teacher rows, drop the oldest
            self.queue = torch.cat([bank, t.detach()])[-self.size:]
        return loss

    def state(self) -> dict:
        return {'queue': self.queue}

    def load_state(self, state: dict) -> None:
        self.queue = state['queue'].to(self.teacher.device)


class LogitObjective(DistillObjective):
    r"""GLNN (Zhang et al., ICLR 2022): logit distillation, a *supervised* reference.

    The teacher is given as class logits :math:`t_i \in \mathbb{R}^C` (e.g. a classifier
    on a GNN's embeddings); a Linear head maps the student's output to :math:`C` logits
    :math:`s_i`, and over a batch of anchors

    .. math::
        \mathcal{L} = (1 - \lambda)\,\frac{1}{B}\sum_i \mathrm{KL}\big(\mathrm{softmax}(t_i)
        \,\|\, \mathrm{softmax}(s_i)\big) + \lambda\,\frac{1}{|L_B|}\sum_{i \in L_B}
        -\log \mathrm{softmax}(s_i)_{y_i},

    :math:`L_B` the anchors with a label (``labels[i] >= 0``), λ = ``label_weight``. O(B C)
    per step beyond the student. Labels enter through the teacher's logits (a classifier
    fitted on labels) and, with λ > 0, directly: it is a reference for what labels buy the
    same student, not an unsupervised peer.

    Args:
        teacher (Tensor): ``[N, C]`` teacher logits (C ≥ 2) of the training rows.
        cfg (DistillConfig): ``out_channels`` (the head's input), ``label_weight``.
        labels (Tensor, optional): ``[N]`` integer classes in ``[0, C)``, ``-1`` where a row
            has none; required when ``label_weight > 0``.
    """

    def __init__(self, teacher: Tensor, cfg: DistillConfig,
                 labels: Optional[Tensor] = None) -> None:
        super().__init__()
        n, c = teacher.shape
        if c < 2:
            raise ValueError(f"objective 'glnn' reads the teacher as class logits and needs "
                             f'at least 2 columns (classes), got {c}')
        self.weight = float(cfg.label_weight)
        if labels is not None:
            labels = self._checked_labels(labels, n, c)
        if self.weight > 0 and (labels is None or not bool((labels >= 0).any())):
            raise ValueError("distill config 'label_weight' > 0 needs 'labels' with at least "
                             'one labelled row (classes >= 0; -1 marks a row without one); '
                             'pass them, or set label_weight to 0')
        self.register_buffer('target', F.log_softmax(teacher.float(), dim=1), persistent=False)
        self.register_buffer('labels', labels if labels is not None
                             else torch.full((n,), -1, dtype=torch.long), persistent=False)
        self.head = torch.nn.Linear(cfg.out_channels, c)

    @staticmethod
    def _checked_labels(labels: Tensor, n: int, c: int) -> Tensor:
        if not isinstance(labels, Tensor) or labels.dim() != 1 or labels.size(0) != n:
            shape = tuple(labels.shape) if isinstance(labels, Tensor) else type(labels).__name__
            raise ValueError(f"'labels' must be a 1-D tensor with one entry per teacher row "
                             f'({n}), got {shape}')
        if labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise ValueError(f"'labels' must hold integer classes, got dtype {labels.dtype}")
        labels = labels.long().cpu()
        bad = (labels < -1) | (labels >= c)
        if bool(bad.any()):
            raise ValueError(f"'labels' must be classes in [0, {c}) (the teacher's logit "
                             f'columns) or -1 for no label; found {int(labels[bad][0])}')
        return labels

    def logits(self, h: Tensor) -> Tensor:
        """The student's class logits from its embeddings ``h``."""
        return self.head(h)

    def loss(self, encode: Encode, anchors: Tensor,
             generator: Optional[torch.Generator] = None) -> Tensor:
        log_q = F.log_softmax(self.head(encode(anchors)), dim=1)
        log_p = self.rows(self.target, anchors, log_q)
        loss = (1 - self.weight) * F.kl_div(log_q, log_p, reduction='batchmean',
                                            log_target=True)
        if self.weight > 0:
            y = self.rows(self.labels, anchors, log_q)
            seen = y >= 0
            if bool(seen.any()):  # a batch without a labelled anchor has no CE term
                loss = loss + self.weight * F.nll_loss(log_q[seen], y[seen])
        return loss
