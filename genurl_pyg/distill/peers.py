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

Every peer reads only teacher rows of its anchors: no P, no graph.
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
        self.register_buffer('target', (teacher - teacher.mean(0)) / (teacher.std(0) + 1e-8),
                             persistent=False)
        self.head = _head(cfg.out_channels, teacher.size(1))

    def loss(self, encode: Encode, anchors: Tensor,
             generator: Optional[torch.Generator] = None) -> Tensor:
        pred = self.head(encode(anchors))
        target = self.rows(self.target, anchors, pred)
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
        t = self.rows(self.teacher, anchors, s)
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
        t = self.rows(self.teacher, anchors, s)
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
        t = self.rows(self.teacher, anchors, s)
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
