"""Settings of a self-supervised image run (``genurl_pyg.vision``), validated up front."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

OPTIMIZERS = ('sgd', 'adamw', 'lars')
OBJECTIVES = ('genurl', 'simclr', 'byol', 'barlow')
TARGETS = ('online', 'ema')


@dataclass
class SSLConfig:
    """Every knob of :class:`~genurl_pyg.vision.trainer.VisualTrainer`.

    Objective family: ``objective`` (``'genurl'``; the benchmark's peers ``'simclr'``,
    ``'byol'``, ``'barlow'`` from lightly, :mod:`~genurl_pyg.vision.peers`, which use
    their own heads instead of the projector and P, and ``ema`` for BYOL's target).
    Model: ``backbone`` (``'small-cnn'``, ``'resnet18'``, ``'resnet50'``; or pass a module),
    ``projector_hidden``, ``projector_out`` (Linear-BN-ReLU-Linear).
    Views: ``views`` (the fields of :class:`~genurl_pyg.vision.views.ViewConfig`).
    P (:class:`~genurl_pyg.vision.objective.BatchSimilarity`): ``k``, ``feature_hops``,
    ``view_weight`` (1, the default: views only, SimCLR's positives; below 1 the EMA
    teacher's kNN takes ``1 - view_weight`` of P), ``knn_start`` (epochs of views only
    before the teacher's kNN joins P), ``ema`` (teacher momentum), ``false_negatives`` (m:
    from ``knn_start`` on, each view's m teacher-nearest other-image views are not repelled,
    P unchanged; 0, the default: off;
    :func:`~genurl_pyg.vision.objective.teacher_false_negatives`), ``memory_bank`` (M > 0:
    P's kNN part from the ``k`` nearest of the last M projections the online network made,
    a memory bank, instead of the EMA teacher's kNN among the batch's views; needs
    ``view_weight < 1``; no teacher is kept; :mod:`~genurl_pyg.vision.memory_bank`; 0, the
    default: off, because on Fashion-MNIST validation images, two seeds, M 4,096 at half of
    P from epoch 10 beat the teacher's kNN by 2.2 kNN points but stayed 1.0 below views
    only; ``ssl_benchmark_notes.md``, session 51), ``memory_bank_agree`` (with
    ``memory_bank``: a bank entry is a view's neighbour only when the other view of its
    image also finds it among its ``k``; False, the default). Why views only by
    default: on Fashion-MNIST validation images (10k training images, 20 epochs, the small
    CNN; ``experiments/results/ssl_benchmark_notes.md``, session 20) the teacher's kNN at
    ``view_weight=0.5`` cost 4.0 points of kNN accuracy and 1.0 of linear accuracy against
    views only, which was level with SimCLR (kNN 74.6 vs 74.3, linear 87.1 vs 86.6).
    Objective: ``loss`` (``'gkl'`` and the ablation variants of
    :class:`~genurl_pyg.nn.losses.GenURLLoss`), ``nu_latent``, ``alpha`` (1.0, not the
    graphs' 0.1: with one positive per row P is far sparser than a graph's; on Fashion-MNIST's
    held-out validation images, two seeds, alpha 0.5 read −0.23 kNN / −0.29 linear and alpha
    2 +0.84 kNN / −0.16 linear against 1, neither above on both probes and seeds;
    ``experiments/results/ssl_benchmark_notes.md``, session 60); ``latent_radius``
    (r > 0: Q on the projections rescaled onto a sphere of radius r, as the node task's
    key; 2, the default: on CIFAR-10's held-out validation images it gained 4.1 and 4.3
    kNN points and 1.8 linear over the unbounded Q on two seeds, level on Fashion-MNIST's
    (``experiments/results/ssl_benchmark_notes.md``, sessions 39-40); 0: the paper's Q on
    the projections as they are); ``repulsion``
    (``'student_t'``, the default: GKL's pairwise repulsion; ``'decorrelation'``: GKL's
    attraction alone plus ``decorrelation_weight`` times
    :func:`~genurl_pyg.nn.decorrelation.decorrelation_loss` of each view's projections,
    the covariance constraint of Barlow Twins / VICReg in GenURL's form; needs ``loss:
    gkl`` and ``latent_radius > 0``; ``alpha`` is then unused; ``'student_t+decorrelation'``:
    the repulsion kept and ``decorrelation_weight`` times
    :func:`~genurl_pyg.nn.decorrelation.correlation_loss`, CCA-SSG's correlation term,
    added beside it; ours); ``target``
    (``'online'``, the default: Q between the projections of the batch's views, the
    symmetric form; ``'ema'``: BYOL's asymmetry in GenURL's form, Q from a predictor head's
    output on the online projections (Linear-BN-ReLU-Linear, ``predictor_hidden`` units) to
    the projections of an EMA teacher (backbone and projector, momentum ``ema``, no
    gradient), so each view is attracted to the teacher's projection of its P-neighbours and
    repelled from the teacher's other projections; needs the all-pairs loss (2 x
    ``batch_size`` <= 4096) and ``repulsion: student_t``; ours).
    Optimisation: ``optimizer`` (``'sgd'`` with momentum 0.9, ``'adamw'``, ``'lars'``:
    lightly's LARS with momentum 0.9, trust coefficient 0.001), ``lr`` (for a
    batch of 256; scaled linearly with ``batch_size``), ``weight_decay``, ``epochs``,
    ``warmup_epochs`` (linear warm-up, then cosine decay to 0, per step), ``batch_size``,
    ``amp`` (``'auto'``: bfloat16 autocast on CUDA), ``seed``, ``device``.
    Evaluation: ``monitor_every`` (epochs between kNN-monitor readings; 0: only at the end),
    ``knn_k``, ``knn_temperature``.
    """
    objective: str = 'genurl'
    backbone: str = 'small-cnn'
    projector_hidden: int = 512
    projector_out: int = 128
    views: Dict[str, Any] = field(default_factory=dict)
    k: int = 10
    feature_hops: int = 1
    view_weight: float = 1.0
    knn_start: int = 10
    ema: float = 0.99
    false_negatives: int = 0
    memory_bank: int = 0
    memory_bank_agree: bool = False
    loss: str = 'gkl'
    nu_latent: float = 1.0
    alpha: float = 1.0
    latent_radius: float = 2.0
    repulsion: str = 'student_t'
    decorrelation_weight: float = 1.0
    target: str = 'online'
    predictor_hidden: int = 512
    optimizer: str = 'adamw'
    lr: float = 0.003
    weight_decay: float = 1e-4
    epochs: int = 100
    warmup_epochs: int = 5
    batch_size: int = 256
    amp: str = 'auto'
    seed: int = 0
    device: str = 'auto'
    monitor_every: int = 10
    knn_k: int = 200
    knn_temperature: float = 0.1

    def validate(self) -> 'SSLConfig':
        from ..nn.functional import ELEMENTWISE, VARIANTS  # lazy: torch, not at --help
        from ..node.config import check_integer, check_number, check_repulsion

        def integer(name, lo):
            check_integer(getattr(self, name), name, lo, what='ssl config')

        def number(name, lo, hi=None, lo_open=False):
            check_number(getattr(self, name), name, lo, hi, lo_open, what='ssl config')
        for name, lo in (('projector_hidden', 1), ('projector_out', 1),
                         ('predictor_hidden', 1), ('k', 1),
                         ('feature_hops', 1), ('knn_start', 0), ('epochs', 1),
                         ('warmup_epochs', 0), ('batch_size', 2), ('seed', 0),
                         ('monitor_every', 0), ('knn_k', 1), ('false_negatives', 0),
                         ('memory_bank', 0)):
            integer(name, lo)
        number('view_weight', 0.0, 1.0)
        number('ema', 0.0, 1.0)
        for name in ('nu_latent', 'lr', 'knn_temperature'):
            number(name, 0.0, lo_open=True)
        number('alpha', 0.0)
        number('weight_decay', 0.0)
        number('latent_radius', 0.0)
        number('decorrelation_weight', 0.0)
        check_repulsion(self.repulsion, self.loss, self.latent_radius, what='ssl config',
                        decorrelation_weight=self.decorrelation_weight)
        if self.repulsion == 'decorrelation' and self.false_negatives:
            raise ValueError("ssl config 'false_negatives' spares pairs from the repulsion, "
                             "which 'repulsion: decorrelation' removes; set it to 0")
        if not isinstance(self.memory_bank_agree, bool):
            raise TypeError("ssl config 'memory_bank_agree' must be true or false, got "
                            f'{self.memory_bank_agree!r}')
        if self.memory_bank_agree and not self.memory_bank:
            raise ValueError("ssl config 'memory_bank_agree' filters the memory bank's "
                             "neighbours; set 'memory_bank' (M > 0) too")
        if self.memory_bank:
            self._check_memory_bank()
        if self.target not in TARGETS:
            raise ValueError(f"ssl config 'target' must be one of {TARGETS}, got "
                             f"{self.target!r}")
        if self.target == 'ema' and self.objective != 'genurl':
            raise ValueError("ssl config 'target: ema' is GenURL's objective; the peer "
                             f"{self.objective!r} has its own heads: set 'target' to 'online'")
        if self.target == 'ema' and self.repulsion != 'student_t':
            raise ValueError("ssl config 'target: ema' keeps GKL's pairwise repulsion (toward "
                             "the teacher's projections); set 'repulsion' to 'student_t'")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"ssl config 'objective' must be one of {OBJECTIVES}, got "
                             f"{self.objective!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"ssl config 'optimizer' must be one of {OPTIMIZERS}, got "
                             f"{self.optimizer!r}")
        if self.amp not in ('auto', 'on', 'off'):
            raise ValueError(f"ssl config 'amp' must be 'auto', 'on' or 'off', got {self.amp!r}")
        if self.loss not in VARIANTS:
            raise ValueError(f"ssl config 'loss' must be one of {VARIANTS}, got {self.loss!r}")
        if self.false_negatives and not 1 <= self.false_negatives <= 2 * self.batch_size - 2:
            raise ValueError(f"ssl config 'false_negatives' must be at most 2 * batch_size - 2 "
                             f'= {2 * self.batch_size - 2}, got {self.false_negatives}')
        if self.false_negatives and self.loss not in ELEMENTWISE:
            raise ValueError("ssl config 'false_negatives' needs an elementwise 'loss' "
                             f"{ELEMENTWISE}, got {self.loss!r}")
        from .views import ViewConfig
        ViewConfig.from_dict(self.views)  # raises naming a bad view option
        return self

    def _check_memory_bank(self) -> None:
        from ..nn.functional import ELEMENTWISE
        why = None
        if self.objective != 'genurl':
            why = f"is GenURL's P; the peer {self.objective!r} has its own loss"
        elif self.view_weight >= 1:
            why = ("supplies P's kNN part, which 'view_weight' 1 (views only) leaves out; set "
                   "'view_weight' below 1")
        elif self.memory_bank < self.k:
            why = f"must hold at least 'k' ({self.k}) entries"
        elif self.false_negatives or self.target == 'ema':
            why = ("replaces the EMA teacher that 'false_negatives' and 'target: ema' read; "
                   "use one or the other")
        elif self.loss not in ELEMENTWISE:
            why = f"needs an elementwise 'loss' {ELEMENTWISE}, got {self.loss!r}"
        if why:
            raise ValueError(f"ssl config 'memory_bank' ({self.memory_bank}) {why}")

    @classmethod
    def from_dict(cls, values: Optional[Dict[str, Any]] = None,
                  base: Optional['SSLConfig'] = None) -> 'SSLConfig':
        from ..node.config import checked_keys
        values = checked_keys(values, cls, 'ssl config key')
        merged = dataclasses.asdict(base) if base is not None else {}
        merged.update(values)
        return cls(**merged).validate()

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)
