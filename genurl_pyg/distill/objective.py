r"""GenURL's distillation objective: P from the teacher's embeddings, Q from the student's.

DSM: :math:`P` is built once (static) by :class:`~genurl_pyg.structure.SimilarityBuilder` on
the teacher's embeddings :math:`T` (calibrated kNN, geodesics on the kNN graph), optionally
combined with the data's own graph as the predefined part. LDT: the student's outputs
:math:`s_i` give :math:`Q_{ij} = \kappa_\nu(\lVert s_i - s_j\rVert^2)`, and the GKL pulls Q to
P. Each step takes a batch of anchors, draws ``r`` positives from each anchor's row of P and
``m`` uniform negatives (by default among the other anchors, the same estimate), and only
the rows those pairs touch go through the student: the
sampled, unbiased estimate of the all-pairs loss (:func:`~genurl_pyg.nn.sampling.
sample_anchor_pairs`), O(B (r + m) d) per step, memory O(N k) for P.
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple

import torch
from torch import Tensor

from ..nn import functional as LF
from ..nn.models.projection_head import ProjectionHead
from ..nn.models.sphere_projection import SphereProjection
from ..nn.sampling import dense_block, sample_anchor_pairs
from ..structure.builder import SimilarityBuilder
from ..structure.similarity import Similarity, combine
from .config import DistillConfig

Encode = Callable[[Tensor], Tensor]


class DistillObjective(torch.nn.Module):
    """What every objective provides: ``loss(encode, anchors, generator)``, where
    ``encode(nodes)`` runs the student on those rows (with the run's input view) and
    ``anchors`` is a uniform batch of the teacher's rows. Objectives may hold parameters
    (a head); the distiller trains them with the student.

    With ``teacher_views`` the distiller sets :attr:`view_teacher` (on this objective and
    any objective it holds): ``view_teacher(rows)`` is the teacher's ``[len(rows), d_t]``
    features of the view that the last ``encode(rows)`` drew, and :meth:`teacher_rows`
    reads them in place of the static table."""

    view_teacher: Optional[Callable[[Tensor], Tensor]] = None

    def set_view_teacher(self, view_teacher: Optional[Callable[[Tensor], Tensor]]) -> None:
        """Sets :attr:`view_teacher` here and on every objective held as a submodule."""
        for module in self.modules():
            if isinstance(module, DistillObjective):
                module.view_teacher = view_teacher

    def teacher_rows(self, table: Tensor, anchors: Tensor, like: Tensor,
                     transform: Optional[Callable[[Tensor], Tensor]] = None) -> Tensor:
        """The anchors' teacher rows on ``like``'s device: the rows of the static ``table``
        (already transformed), or with :attr:`view_teacher` set the teacher's features of
        the current view, passed through ``transform`` (the objective's own
        standardisation or normalisation of ``table``)."""
        if self.view_teacher is None:
            return self.rows(table, anchors, like)
        t = self.view_teacher(anchors).to(like.device)
        return t if transform is None else transform(t)

    def loss(self, encode: Encode, anchors: Tensor,
             generator: Optional[torch.Generator] = None) -> Tensor:
        raise NotImplementedError

    def state(self) -> dict:
        """Tensors a checkpoint must hold beyond the parameters (e.g. a queue)."""
        return {}

    def load_state(self, state: dict) -> None:
        return None

    @staticmethod
    def rows(table: Tensor, anchors: Tensor, like: Tensor) -> Tensor:
        """The anchors' rows of a per-row ``table`` (teacher embeddings, targets), on the
        device of ``like`` (the student's output)."""
        return table[anchors.to(table.device)].to(like.device)


class FirstPass:
    """``encode`` that remembers its first call of a step (the rows and the student's
    outputs), so that a second loss term can read the outputs of rows that pass already
    encoded instead of running the student again: :meth:`outputs_of` picks them out (rows
    matched by id, O(R log R) for the R rows encoded), and encodes only when some row was
    not in that pass."""

    def __init__(self, encode: Encode) -> None:
        self.encode = encode
        self.first: Optional[Tuple[Tensor, Tensor]] = None

    def __call__(self, rows: Tensor) -> Tensor:
        out = self.encode(rows)
        if self.first is None:
            self.first = (rows, out)
        return out

    def outputs_of(self, rows: Tensor) -> Tensor:
        if self.first is None:
            return self.encode(rows)
        seen, out = self.first
        rows = rows.to(seen.device)
        if seen.shape == rows.shape and torch.equal(seen, rows):
            return out
        ordered, order = seen.sort()
        pos = torch.searchsorted(ordered, rows).clamp_max(ordered.numel() - 1)
        if not torch.equal(ordered[pos], rows):  # a row the pass did not encode
            return self.encode(rows)
        return out[order[pos].to(out.device)]


class GenURLObjective(DistillObjective):
    r"""GKL between P (from the teacher) and the student's Student-t Q.

    With ``loss: kl`` (ours, ``pairs: block`` only) the batch's block of P and of Q are
    row-normalised and compared by t-SNE's KL, :math:`\frac{1}{B}\sum_i\sum_{j\ne i}
    \tilde p_{ij}\log(\tilde p_{ij}/\tilde q_{ij})`, the conditional comparison PKT makes;
    with ``latent_radius`` r > 0 (ours) Q reads :math:`r\,s_i/\lVert s_i\rVert` instead of
    :math:`s_i`, a bounded kernel of the outputs' directions. Both were found on held-out
    validation nodes of Cora's inductive protocol (``experiments/results/kd_batch_p_cora*.md``)
    and, with ``pairs: block``, are the node-feature defaults (``'auto'``:
    :data:`~genurl_pyg.distill.config.AUTO_RELATION`, chosen on Cora and Photo,
    ``kd_inductive_sphere_*.md``); ``loss: gkl``, ``latent_radius: 0`` with ``pairs:
    sampled`` is the paper's relation, the image default (with the paper's objective:
    no anchor, the teacher's P; ``AUTO_ANCHOR_LOSS``, ``AUTO_INPUT_WEIGHT``).

    Args:
        teacher (Tensor): ``[N, d_t]`` teacher embeddings of the training rows.
        cfg (DistillConfig): ``k``, ``metric``, ``feature_hops``, ``nu_input`` (P);
            ``use_graph``, ``graph_hops``, ``lam`` (predefined graph); ``nu_latent``,
            ``alpha``, ``loss``, ``latent_radius``, ``pairs``, ``pos_per_anchor``,
            ``neg_per_anchor`` (loss).
        edge_index (Tensor, optional): the data's graph on the same ``N`` rows, used when
            ``cfg.use_graph``.

    Building P costs what :class:`~genurl_pyg.structure.SimilarityBuilder` costs on
    ``[N, d_t]`` (exact kNN O(N^2 d_t) in chunks, O(N k) memory; faiss or pynndescent for
    large N through ``knn_method='auto'``).
    """

    def __init__(self, teacher: Tensor, cfg: DistillConfig,
                 edge_index: Optional[Tensor] = None,
                 inputs: Optional[Tensor] = None) -> None:
        super().__init__()
        if cfg.use_graph and edge_index is None:
            raise ValueError("distill config 'use_graph: true' needs the data's graph "
                             "('edge_index'); pass it, or set use_graph to false")
        cfg = cfg.resolved(images=False)  # 'auto' here: the node-feature value (the
        self.cfg = cfg  # distiller resolves it for images before building the objective)
        if cfg.input_weight > 0 and (inputs is None or inputs.dim() != 2
                                     or inputs.size(0) != teacher.size(0)):
            raise ValueError("distill config 'input_weight' > 0 needs the student's input "
                             'features, one row per teacher row ([N, D] node features, or '
                             'images flattened to rows): pass them, or set input_weight to 0')
        n = teacher.size(0)
        builder = SimilarityBuilder(k=min(cfg.k, n - 1), metric=cfg.metric,
                                    feature_hops=cfg.feature_hops, graph_hops=cfg.graph_hops,
                                    lam=cfg.lam, nu=cfg.nu_input, use_graph=cfg.use_graph,
                                    seed=cfg.seed)
        self.sim: Similarity = builder.build(teacher, edge_index if cfg.use_graph else None, n)
        self.lam = builder.lam_
        if cfg.input_weight > 0:  # the input's own neighbourhoods beside the teacher's
            self.sim = self._with_input_part(inputs.float(), cfg, n)
        self._rowptr = self.sim.rowptr()
        # what Q reads: the outputs, or the projector's output when there is one (the
        # probes read the outputs before it); with latent_radius r > 0 its direction at r
        head = (ProjectionHead(cfg.out_channels, cfg.projector_hidden, cfg.projector_out)
                if cfg.projector_hidden > 0 else torch.nn.Identity())
        self.to_q = (SphereProjection(cfg.latent_radius, inner=head)
                     if cfg.latent_radius > 0 else head)
        if cfg.anchor_weight > 0:  # the coordinate anchor: the 'mse' or 'cosine' peer's
            from .peers import RegressionObjective  # peers import this module
            self.anchor = RegressionObjective(teacher, cfg, cfg.anchor_loss)

    def _with_input_part(self, inputs: Tensor, cfg: DistillConfig, n: int) -> Similarity:
        """:math:`(1-w) P_{teacher} + w P_{input}` over the union of their supports."""
        part = SimilarityBuilder(k=min(cfg.k, n - 1), metric=cfg.metric,
                                 feature_hops=cfg.feature_hops, nu=cfg.nu_input,
                                 use_graph=False, seed=cfg.seed).build(inputs, None, n)
        index, weight = combine((self.sim.index, self.sim.weight),
                                (part.index, part.weight), float(cfg.input_weight), n)
        return Similarity(index, weight, n, self.sim.lam,
                          {**self.sim.info, 'input_weight': float(cfg.input_weight)})

    def loss(self, encode: Encode, anchors: Tensor,
             generator: Optional[torch.Generator] = None) -> Tensor:
        if not self.cfg.anchor_weight > 0:
            return self._gkl(encode, anchors, generator)
        # The coordinate anchor reads the anchors' outputs of the relation's own forward
        # pass (on images, the same view): one student pass per step, not a second one
        # for the anchor, which doubled the cost of every anchored step.
        first = FirstPass(encode)
        loss = self._gkl(first, anchors, generator)
        out = first.outputs_of(anchors)
        return loss + self.cfg.anchor_weight * self.anchor.loss(lambda rows: out, anchors)

    def _gkl(self, encode: Encode, anchors: Tensor,
             generator: Optional[torch.Generator]) -> Tensor:
        cfg = self.cfg
        if cfg.pairs == 'block':  # every pair of the anchors: the mean over a uniform block
            p = dense_block(self.sim, anchors.to(self.sim.index.device))
            if cfg.view_pair_weight > 0:  # two views of each anchor, paired in P
                z = self.to_q(torch.cat([encode(anchors), encode(anchors)]))
                p = self.view_pair_block(p)
            else:
                z = self.to_q(encode(anchors))
                if self.view_teacher is not None:  # P refreshed from the teacher's view
                    p = self.view_block(self.view_teacher(anchors), p)
            return LF.all_pairs_loss(z, p.to(z.device), cfg.nu_latent, cfg.loss, cfg.alpha)
        s = sample_anchor_pairs(self.sim, anchors, cfg.pos_per_anchor, cfg.neg_per_anchor,
                                generator, self._rowptr,
                                in_batch_negatives=cfg.negatives == 'in_batch')
        uniq, inv = torch.unique(s.nodes(), return_inverse=True)
        z = self.to_q(encode(uniq))
        a, b = s.pos_i.numel(), s.neg_i.numel()
        i, j, ni, nj = inv.to(z.device).split([a, a, b, b])
        dev = z.device
        return LF.indexed_pairs_loss(z, i, j, s.pos_p.to(dev), ni, nj, s.num_support,
                                     s.num_pairs, cfg.nu_latent, 'gkl', cfg.alpha, 1e-10,
                                     pos_weight=s.pos_weight.to(dev),
                                     neg_weight=s.neg_weight.to(dev))

    def view_pair_block(self, p: Tensor) -> Tensor:
        r"""P over two views of each of the batch's B rows (``view_pair_weight`` w > 0): rows
        and columns ``0..B-1`` are the first views, ``B..2B-1`` the second ones, and

        .. math::
            P^{(2)} = (1 - w)\begin{pmatrix} P_B & P_B \\ P_B & P_B \end{pmatrix}
            + w \begin{pmatrix} 0 & I \\ I & 0 \end{pmatrix},

        with :math:`P_B` the static block of the teacher's P (its diagonal zeroed): each view
        keeps its row's neighbours in the teacher (the global topology), and the two views of
        one row are each other's neighbour with weight w (the views' predefined graph, the
        "local instance discrimination" end; method section 2, items 4, 6 and 7). O(B^2)
        memory, 4x the single-view block."""
        b, w = p.size(0), float(self.cfg.view_pair_weight)
        eye = torch.eye(b, dtype=p.dtype, device=p.device)
        p = p * (1 - eye)
        partner = torch.zeros(2 * b, 2 * b, dtype=p.dtype, device=p.device)
        partner[:b, b:] = eye
        partner[b:, :b] = eye
        return (1 - w) * p.repeat(2, 2) + w * partner

    def view_block(self, t: Tensor, static_block: Tensor) -> Tensor:
        r"""The batch's ``[B, B]`` block of P rebuilt from the teacher's features ``t`` of
        this step's view (``teacher_views``): :class:`~genurl_pyg.structure.SimilarityBuilder`
        with the static P's settings (metric, geodesic hops, :math:`\nu`) on the B rows, with
        :math:`k_B` neighbours per row, :math:`k_B` the mean number of neighbours a row has in
        the static block of the same rows (``static_block``), rounded, at least 1, at most B - 1.
        So the refreshed block is as sparse as the static block it replaces (about
        :math:`k B / N` on uniform batches, more with ``batch_neighbours``), while which rows
        are neighbours, and how close, is what the teacher sees in this view. O(B^2 d_t) per
        step (exact kNN of the batch)."""
        b = t.size(0)
        if b < 3:
            raise ValueError(f'teacher_views needs batches of at least 3 rows, got {b}')
        # off-diagonal entries of the static block (no copy of the B x B block per step)
        pairs = (static_block > 0).sum() - (static_block.diagonal() > 0).sum()
        k = int(round(float(pairs) / b))
        k = min(b - 1, max(1, k))
        cfg = self.cfg
        sim = SimilarityBuilder(k=k, metric=cfg.metric, feature_hops=cfg.feature_hops,
                                nu=cfg.nu_input, use_graph=False, knn_method='exact',
                                seed=cfg.seed).build(t.detach().float().cpu(), None, b)
        return dense_block(sim, torch.arange(b))

    def extra_repr(self) -> str:
        return (f'pairs={self.sim.num_pairs}, k={self.cfg.k}, lam={self.lam}, '
                f'nu_latent={self.cfg.nu_latent}, alpha={self.cfg.alpha}, loss={self.cfg.loss}'
                + (f', latent_radius={self.cfg.latent_radius}' if self.cfg.latent_radius else ''))
