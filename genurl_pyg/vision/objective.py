r"""GenURL's input similarity P over one batch of image views.

A batch of ``B`` images gives ``2B`` views, stacked ``[view 1 of every image; view 2 of
every image]``. P over those ``2B`` rows combines, as DSM does for graphs
(``../shared/docs/genurl_method.md``, section 2):

* the **predefined graph**: the two views of one image are neighbours (edges
  ``i <-> i + B``); alone, this is instance discrimination (SimCLR's positives);
* **feature-space geodesics**: a kNN graph (``k``, cosine) of the views' features under a
  stop-gradient *teacher*, an exponential moving average of the backbone (the method doc's
  "dynamic kNN of EMA features"), calibrated and extended to ``feature_hops`` hops by
  :class:`~genurl_pyg.structure.SimilarityBuilder`; it adds other images that the teacher
  already places close, the "global topology" end of the paper's trade-off;
* mixed as :math:`P = (1 - \lambda) P_{\text{kNN}} + \lambda P_{\text{views}}` with
  :math:`\lambda` = ``view_weight``. Ours: a fixed weight, because the graph-trust rule
  that sets :math:`\lambda` for graphs reads "views agree with the features" as "lean on
  the views", which at the start of training (a random teacher) is backwards; the kNN part
  starts after ``knn_start`` epochs of views only. The trainer's default
  (:class:`~genurl_pyg.vision.config.SSLConfig`) is :math:`\lambda = 1`, views only: at the
  CPU budget measured, the teacher's kNN pairs acted as noisy positives (4 points of kNN
  accuracy lost on validation images, ``experiments/results/ssl_benchmark_notes.md``).

Optionally (``false_negatives`` = m > 0, :func:`teacher_false_negatives`) the m views
that the teacher places nearest to a view, other than its own image's, are not repelled
from it: their pairs keep :math:`p = 0` but leave the loss, so P is unchanged and only the
repulsion of likely same-class images is removed (false-negative *elimination*, where
``view_weight < 1`` would *attract* them).

Q is the Student-t kernel of the projector outputs and the loss the GKL
(:class:`~genurl_pyg.nn.losses.GenURLLoss`), over all ``2B x 2B`` pairs of the batch
(O(B²·d)) or, above ``all_pairs_max`` rows, its unbiased sampled form.
Cost of P per step: O(B²·D) for the exact kNN of ``2B`` teacher features, O(B·k^h) for
the geodesics; memory O(B·k^h).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ..structure.builder import SimilarityBuilder
from ..structure.similarity import Similarity


def view_edges(batch: int, device=None) -> Tensor:
    """``[2, 2B]`` edges joining row ``i`` and row ``i + B`` (both directions)."""
    i = torch.arange(batch, device=device)
    return torch.cat([torch.stack([i, i + batch]), torch.stack([i + batch, i])], dim=1)


def teacher_false_negatives(teacher_features: Tensor, batch: int, m: int) -> Tensor:
    """Boolean ``[2B, 2B]``: ``True`` for the pairs (either direction) of each view and
    the ``m`` views nearest to it by the teacher's cosine similarity, leaving out the view
    itself and the other view of its image. O(B²·D) time, O(B²) memory."""
    n = 2 * batch
    if teacher_features.dim() != 2 or teacher_features.size(0) != n:
        raise ValueError(f'teacher features must be [2B = {n}, D], got '
                         f'{tuple(teacher_features.shape)}')
    if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= n - 2:
        raise ValueError(f"'m' must be an integer in [1, 2B - 2 = {n - 2}], got {m!r}")
    t = torch.nn.functional.normalize(teacher_features.float(), dim=1)
    sim = t @ t.t()
    rows = torch.arange(n, device=sim.device)
    sim[rows, rows] = float('-inf')
    sim[rows, (rows + batch) % n] = float('-inf')  # the same image's other view
    nearest = sim.topk(m, dim=1).indices
    mask = torch.zeros(n, n, dtype=torch.bool, device=sim.device)
    mask[rows.unsqueeze(1).expand_as(nearest), nearest] = True
    return mask | mask.t()


class BatchSimilarity:
    """P over the ``2B`` views of a batch (see the module doc).

    Args:
        k: neighbours per view in the teacher-feature kNN graph.
        feature_hops: hop limit of the geodesics on that graph (1: plain kNN).
        view_weight: :math:`\\lambda`, the views' share of P (1: views only).
    """

    def __init__(self, k: int = 10, feature_hops: int = 1, view_weight: float = 0.5) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"'k' must be a positive integer, got {k!r}")
        if not 0.0 <= float(view_weight) <= 1.0:
            raise ValueError(f"'view_weight' must be in [0, 1], got {view_weight!r}")
        self.k, self.feature_hops, self.view_weight = k, feature_hops, float(view_weight)

    def __repr__(self) -> str:
        return (f'BatchSimilarity(k={self.k}, feature_hops={self.feature_hops}, '
                f'view_weight={self.view_weight})')

    def __call__(self, batch: int, teacher_features: Optional[Tensor] = None) -> Similarity:
        """P for ``batch`` images; ``teacher_features`` ``[2B, D]`` (``None``: views only)."""
        device = None if teacher_features is None else teacher_features.device
        edges = view_edges(batch, device)
        n = 2 * batch
        use_knn = teacher_features is not None and self.view_weight < 1.0
        if use_knn and teacher_features.shape[0] != n:
            raise ValueError(f'teacher features must have 2B = {n} rows, got '
                             f'{tuple(teacher_features.shape)}')
        builder = SimilarityBuilder(k=min(self.k, n - 1), metric='cosine',
                                    feature_hops=self.feature_hops, graph_hops=1,
                                    lam=self.view_weight if use_knn else 1.0,
                                    knn_method='exact', use_features=use_knn, use_graph=True)
        x = teacher_features.float() if use_knn else torch.zeros(n, 1, device=device)
        return builder.build(x, edges, n)
