r"""GenURL's divergences between an input similarity :math:`P` and an embedding similarity
:math:`Q`, in two forms: all pairs of a batch, and sampled pairs (unbiased).

Elementwise variants (a loss :math:`\ell(p, q)` per pair, averaged over off-diagonal pairs):

* ``'gkl'`` (General KL, the authors' form):
  :math:`\ell = -p \log(q + \varepsilon) + \alpha\,|p - q|`
* ``'fuzzy_ce'`` (UMAP/DMT): :math:`\ell = -p\log(q+\varepsilon) - (1-p)\log(1-q+\varepsilon)`
* ``'l1'``: :math:`|p - q|`; ``'mse'``: :math:`(p - q)^2`

Row-wise variants (need whole rows, so all-pairs form only):

* ``'kl'`` (t-SNE): :math:`\frac{1}{B}\sum_i \sum_{j\ne i} \tilde p_{ij}\log(\tilde p_{ij}/\tilde q_{ij})`
  with rows normalised to sum to 1;
* ``'infonce'`` (SimCLR/GRACE with soft targets):
  :math:`-\frac{1}{B}\sum_i \sum_{j\ne i} \tilde p_{ij}\log\frac{q_{ij}}{\sum_{l\ne i} q_{il}}`.

:math:`Q_{ij} = \kappa_\nu(\lVert z_i - z_j\rVert^2)` (:func:`~genurl_pyg.structure.student_t`).
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

import torch
from torch import Tensor

from ..structure.kernels import student_t
from .._validation import check_tensor
from .pair_distance import column_block_sqdist, pair_sqdist

ELEMENTWISE = ('gkl', 'fuzzy_ce', 'l1', 'mse')
ROWWISE = ('kl', 'infonce')
VARIANTS = ELEMENTWISE + ROWWISE


def _check_pq(p: Tensor, q: Tensor) -> None:
    check_tensor(p, 'p')
    check_tensor(q, 'q')
    if p.shape != q.shape:
        raise ValueError(f"'p' and 'q' must have the same shape, got {tuple(p.shape)} and "
                         f"{tuple(q.shape)}")


def gkl_elementwise(p: Tensor, q: Tensor, alpha: float = 0.1, eps: float = 1e-10) -> Tensor:
    return -p * torch.log(q + eps) + alpha * (p - q).abs()


def fuzzy_ce_elementwise(p: Tensor, q: Tensor, eps: float = 1e-10, **_) -> Tensor:
    return -p * torch.log(q + eps) - (1 - p) * torch.log((1 - q).clamp_min(0) + eps)


def l1_elementwise(p: Tensor, q: Tensor, **_) -> Tensor:
    return (p - q).abs()


def mse_elementwise(p: Tensor, q: Tensor, **_) -> Tensor:
    return (p - q).pow(2)


_ELEMENTWISE_FN: Dict[str, Callable[..., Tensor]] = {
    'gkl': lambda p, q, alpha, eps: gkl_elementwise(p, q, alpha, eps),
    'fuzzy_ce': lambda p, q, alpha, eps: fuzzy_ce_elementwise(p, q, eps=eps),
    'l1': lambda p, q, alpha, eps: l1_elementwise(p, q),
    'mse': lambda p, q, alpha, eps: mse_elementwise(p, q),
}

# The same losses at p = 0 (every negative pair), in closed form: q is a Student-t
# similarity, so q >= 0 and |0 - q| = q; -0 * log(q + eps) vanishes. Equal to
# _ELEMENTWISE_FN[v](0, q) to the last bit, without the logarithm and the zero tensor that
# the general form spends on each of the (up to millions of) negatives of a step.
_ZERO_P_FN: Dict[str, Callable[..., Tensor]] = {
    'gkl': lambda q, alpha, eps: alpha * q,
    'fuzzy_ce': lambda q, alpha, eps: -torch.log((1 - q).clamp_min(0) + eps),
    'l1': lambda q, alpha, eps: q,
    'mse': lambda q, alpha, eps: q.pow(2),
}


def elementwise_loss(p: Tensor, q: Tensor, variant: str = 'gkl', alpha: float = 0.1,
                     eps: float = 1e-10) -> Tensor:
    """Per-pair loss :math:`\\ell(p, q)` of an elementwise variant (no reduction)."""
    _check_pq(p, q)
    if variant not in _ELEMENTWISE_FN:
        raise ValueError(f"'variant' must be one of {ELEMENTWISE} for a per-pair loss, "
                         f"got {variant!r}")
    return _ELEMENTWISE_FN[variant](p, q, alpha, eps)


def gkl_loss(p: Tensor, q: Tensor, alpha: float = 0.1, eps: float = 1e-10) -> Tensor:
    r"""General KL: :math:`\operatorname{mean}(-p \log(q+\varepsilon)) + \alpha \operatorname{mean}|p-q|`
    over the elements given. O(numel)."""
    _check_pq(p, q)
    return gkl_elementwise(p, q, alpha, eps).mean()


def kl_loss(p: Tensor, q: Tensor, eps: float = 1e-10) -> Tensor:
    r"""t-SNE's KL of row-normalised ``p`` and ``q`` (``[B, B]``, diagonal ignored)."""
    p, q = _rows_without_diagonal(p, q)
    pn = p / p.sum(1, keepdim=True).clamp_min(eps)
    qn = q / q.sum(1, keepdim=True).clamp_min(eps)
    return (pn * (torch.log(pn + eps) - torch.log(qn + eps))).sum(1).mean()


def infonce_loss(p: Tensor, q: Tensor, eps: float = 1e-10) -> Tensor:
    r"""Soft-target InfoNCE with :math:`q` as the unnormalised score (``[B, B]``)."""
    p, q = _rows_without_diagonal(p, q)
    pn = p / p.sum(1, keepdim=True).clamp_min(eps)
    log_prob = torch.log(q + eps) - torch.log(q.sum(1, keepdim=True) + eps)
    return -(pn * log_prob).sum(1).mean()


def _rows_without_diagonal(p: Tensor, q: Tensor) -> Tuple[Tensor, Tensor]:
    _check_pq(p, q)
    if p.dim() != 2 or p.size(0) != p.size(1):
        raise ValueError(f"row-wise losses need square [B, B] matrices, got {tuple(p.shape)}")
    off = ~torch.eye(p.size(0), dtype=torch.bool, device=p.device)
    b = p.size(0)
    return p[off].view(b, b - 1), q[off].view(b, b - 1)


def pairwise_sqdist(z: Tensor, other: Optional[Tensor] = None) -> Tensor:
    """Squared euclidean distances ``[B, B]`` between the rows of ``z`` (or ``[B, B']``
    from ``z``'s rows to ``other``'s), clamped at 0. O(B B' d)."""
    other = z if other is None else other
    sq, sq_other = z.pow(2).sum(1), other.pow(2).sum(1)
    return (sq.unsqueeze(1) + sq_other.unsqueeze(0) - 2 * z @ other.t()).clamp_min(0)


def all_pairs_loss(z: Tensor, p: Tensor, nu: float = 1.0, variant: str = 'gkl',
                   alpha: float = 0.1, eps: float = 1e-10,
                   no_repulsion: Optional[Tensor] = None,
                   targets: Optional[Tensor] = None,
                   columns: Optional[Tensor] = None) -> Tensor:
    r"""Loss over all :math:`B(B-1)` ordered pairs of a batch (and, with ``columns``,
    its :math:`B M` pairs with ``M`` fixed extra points).

    Args:
        z (Tensor): embeddings ``[B, d]``.
        p (Tensor): dense input similarity ``[B, B]`` (diagonal ignored, no gradient).
        nu (float): embedding-side Student-t degrees of freedom.
        no_repulsion (Tensor, optional): boolean ``[B, B]``; a pair marked ``True`` whose
            :math:`p_{ij} = 0` is left out of the loss (its repulsive term :math:`\ell(0,
            q_{ij})`, e.g. GKL's :math:`\alpha q_{ij}`, is not applied), and the mean is
            over the pairs kept. Pairs with :math:`p_{ij} > 0` are always kept. For pairs
            believed to be false negatives; elementwise variants only.
        targets (Tensor, optional): ``[B, d]`` fixed points for the columns (used without
            gradient): :math:`Q_{ij} = \kappa_\nu(\lVert z_i - t_j\rVert^2)`, so row
            :math:`i` is attracted to the targets of its P-neighbours and repelled from the
            others (BYOL's asymmetry in GenURL's form: ``z`` an online predictor's output,
            ``t`` an EMA teacher's projections of the same rows). The diagonal (a row and
            its own target) stays out of the loss, as in the symmetric form.
        columns (Tensor, optional): ``[M, d]`` fixed points (used without gradient) after
            the batch's own columns, for example a memory bank of past projections:
            ``p``, ``no_repulsion`` and :math:`Q` are then ``[B, B + M]``, the pair of row
            :math:`i` and column :math:`B + m` being :math:`\kappa_\nu(\lVert z_i -
            c_m\rVert^2)`; only the batch block's diagonal stays out. Elementwise
            variants only (``kl`` and ``infonce`` normalise square rows).

    Complexity: O(B (B + M) d) time, O(B (B + M)) memory: meant for batches of at most a few
    thousand.
    """
    check_tensor(z, 'z')
    if z.dim() != 2:
        raise ValueError(f"'z' must be [B, d], got shape {tuple(z.shape)}")
    if targets is not None:
        check_tensor(targets, 'targets')
        if targets.shape != z.shape:
            raise ValueError(f"'targets' must have the shape of 'z', {tuple(z.shape)}, got "
                             f'{tuple(targets.shape)}')
        targets = targets.detach()
    b = z.size(0)
    extra = 0
    if columns is not None:
        check_tensor(columns, 'columns')
        if columns.dim() != 2 or columns.size(1) != z.size(1):
            raise ValueError(f"'columns' must be [M, d = {z.size(1)}], got "
                             f'{tuple(columns.shape)}')
        if variant in ('kl', 'infonce'):
            raise ValueError(f"'columns' applies to the elementwise variants, not "
                             f'{variant!r}')
        extra = columns.size(0)
    if p.shape != (b, b + extra):
        what = '[B, B]' if columns is None else '[B, B + M]'
        raise ValueError(f"'p' must be {what} = {(b, b + extra)} to match 'z', "
                         f"got {tuple(p.shape)}")
    if variant not in VARIANTS:
        raise ValueError(f"'variant' must be one of {VARIANTS}, got {variant!r}")
    if no_repulsion is not None:
        if no_repulsion.shape != p.shape or no_repulsion.dtype != torch.bool:
            raise ValueError(f"'no_repulsion' must be a boolean tensor of p's shape "
                             f'{tuple(p.shape)}, got {no_repulsion.dtype} '
                             f'{tuple(no_repulsion.shape)}')
        if variant in ('kl', 'infonce'):
            raise ValueError(f"'no_repulsion' applies to the elementwise variants, not "
                             f'{variant!r}')
    p = p.detach()
    cols = targets
    if columns is not None:
        cols = torch.cat([z if targets is None else targets, columns.detach().to(z.dtype)])
    q = student_t(pairwise_sqdist(z, cols), nu)
    if variant == 'kl':
        return kl_loss(p, q, eps)
    if variant == 'infonce':
        return infonce_loss(p, q, eps)
    keep = ~torch.eye(b, b + extra, dtype=torch.bool, device=z.device)
    if no_repulsion is not None:
        keep &= ~(no_repulsion.to(keep.device) & (p == 0))
    return elementwise_loss(p[keep], q[keep], variant, alpha, eps).mean()


def sampled_pairs_loss(z_pos_i: Tensor, z_pos_j: Tensor, p_pos: Tensor, z_neg_i: Tensor,
                       z_neg_j: Tensor, num_support: float, num_pairs: int, nu: float = 1.0,
                       variant: str = 'gkl', alpha: float = 0.1, eps: float = 1e-10,
                       pos_weight: Optional[Tensor] = None,
                       neg_weight: Optional[Tensor] = None) -> Tensor:
    r"""Unbiased sampled estimate of the all-pairs mean of an elementwise loss.

    Writing the all-pairs mean over :math:`M` pairs with :math:`P`'s support :math:`S` as

    .. math::
        L = \frac{1}{M}\Big[\sum_{(i,j)\in S}\big(\ell(p_{ij},q_{ij}) - \ell(0,q_{ij})\big)
            + \sum_{i\ne j}\ell(0, q_{ij})\Big],

    uniform draws from :math:`S` (``s`` of them) and from all off-diagonal pairs (``m``) give

    .. math::
        \hat L = \frac{1}{M}\Big[\frac{|S|}{s}\sum_{\text{pos}}\big(\ell(p,q)-\ell(0,q)\big)
                 + \frac{M}{m}\sum_{\text{neg}}\ell(0,q)\Big], \qquad
        \mathbb{E}[\hat L] = L.

    Args:
        z_pos_i, z_pos_j (Tensor): embeddings of ``s`` pairs drawn uniformly from S.
        p_pos (Tensor): their ``P`` values ``[s]``.
        z_neg_i, z_neg_j (Tensor): embeddings of ``m`` pairs drawn uniformly from all
            off-diagonal pairs.
        num_support (int): :math:`|S|`. num_pairs (int): :math:`M` (``N(N-1)`` for all pairs).
        pos_weight, neg_weight (Tensor, optional): per-pair inverse inclusion rates replacing
            :math:`|S|/s` and :math:`M/m` when the draws are not uniform over S and over all
            pairs, e.g. anchor batches (:func:`~genurl_pyg.nn.sampling.sample_anchor_pairs`).
            The estimate stays unbiased when each weight is the pair's expected number of
            draws, inverted.

    Complexity: O((s + m) d) time and memory.
    """
    _check_elementwise(variant)
    return _sampled_estimate((z_pos_i - z_pos_j).pow(2).sum(-1), p_pos,
                             (z_neg_i - z_neg_j).pow(2).sum(-1), num_support, num_pairs, nu,
                             variant, alpha, eps, pos_weight, neg_weight)


def indexed_pairs_loss(z: Tensor, pos_i: Tensor, pos_j: Tensor, p_pos: Tensor, neg_i: Tensor,
                       neg_j: Tensor, num_support: float, num_pairs: int, nu: float = 1.0,
                       variant: str = 'gkl', alpha: float = 0.1, eps: float = 1e-10,
                       pos_weight: Optional[Tensor] = None,
                       neg_weight: Optional[Tensor] = None) -> Tensor:
    r""":func:`sampled_pairs_loss` for pairs given as row indices of one ``z``.

    The same estimate, but the distances come from
    :func:`~genurl_pyg.nn.pair_distance.pair_sqdist`, which never materialises the gathered
    ``[s + m, d]`` rows (several times faster on CPU for ``d >= 16``).

    Args:
        z (Tensor): embeddings ``[N, d]``.
        pos_i, pos_j (LongTensor): the ``s`` support pairs; ``p_pos`` their ``P`` values.
        neg_i, neg_j (LongTensor): the ``m`` uniform pairs.
        The other arguments as in :func:`sampled_pairs_loss`.

    Complexity: O((s + m) d) time, O(s + m) memory beyond ``z``.
    """
    _check_elementwise(variant)
    s = pos_i.numel()
    d = pair_sqdist(z, torch.cat([pos_i, neg_i]), torch.cat([pos_j, neg_j]))
    return _sampled_estimate(d[:s], p_pos, d[s:], num_support, num_pairs, nu, variant, alpha,
                             eps, pos_weight, neg_weight)


def shared_columns_loss(z: Tensor, pos_i: Tensor, pos_j: Tensor, p_pos: Tensor, cols: Tensor,
                        num_support: float, nu: float = 1.0, variant: str = 'gkl',
                        alpha: float = 0.1, eps: float = 1e-10,
                        precision: str = 'float32') -> Tensor:
    r""":func:`indexed_pairs_loss` with the negatives laid out as a block: every row of ``z``
    against the same ``M`` uniform columns ``cols`` (rows of ``z`` too), the pairs
    :math:`(i, c_m)` with :math:`i \neq c_m`.

    Each column is a uniform node, so for every row :math:`i` the block's entries are
    uniform partners, and the usual scaling :math:`N(N-1)/(NM - M)` (``M`` self-pairs are
    left out, one per column) equals :math:`N/M`: the estimate of the sum over all pairs
    stays unbiased; the negatives of one step are correlated through their shared columns.
    The block's squared distances come from one matrix product,
    :math:`\lVert z_i\rVert^2 + \lVert z_c\rVert^2 - 2 z_i^\top z_c` (clamped at 0), instead
    of gathering two rows per pair: on one CPU core the gathers were about 60 % of a Cora
    step at ``d = 512`` (session 22 profile); the block and its gradient come from
    :func:`~genurl_pyg.nn.pair_distance.column_block_sqdist` (its products in bfloat16 with
    ``precision='bfloat16'``).

    Args:
        z (Tensor): embeddings ``[N, d]``.
        pos_i, pos_j, p_pos: the ``s`` support pairs and their ``P`` values.
        cols (LongTensor): ``[M]`` column rows, values in ``[0, N)``.
        The other arguments as in :func:`sampled_pairs_loss` (``num_pairs`` is ``N(N-1)``).

    Complexity: O(s d + N M d) time (a GEMM for the block), O(s + N M) memory beyond ``z``.
    """
    _check_elementwise(variant)
    n = z.size(0)
    if cols.dim() != 1 or cols.numel() == 0:
        raise ValueError(f"'cols' must be a non-empty 1-D index tensor, got shape "
                         f"{tuple(cols.shape)}")
    num_pairs = n * (n - 1)
    d_pos = pair_sqdist(z, pos_i, pos_j)
    d_block = column_block_sqdist(z, cols, precision)
    terms = _ZERO_P_FN[variant](student_t(d_block, nu), alpha, eps)
    # The M self-pairs (row cols[m], column m) sit in the block; subtracting their terms
    # from the block's sum costs O(M), where selecting the other N M - M entries with a
    # boolean mask cost a quarter of a Cora step (nonzero, index, index_put backward).
    self_terms = terms[cols, torch.arange(cols.numel(), device=z.device)]
    count = terms.numel() - cols.numel()
    neg_sum = (terms.sum() - self_terms.sum()) * (num_pairs / max(1, count))
    pos_sum = _positive_sum(d_pos, p_pos, num_support, nu, variant, alpha, eps, None)
    return (pos_sum + neg_sum) / num_pairs


def _check_elementwise(variant: str) -> None:
    if variant not in ELEMENTWISE:
        raise ValueError(f"the sampled loss needs an elementwise variant {ELEMENTWISE}; "
                         f"'{variant}' normalises whole rows, use the all-pairs form")


def _sampled_estimate(d_pos: Tensor, p_pos: Tensor, d_neg: Tensor, num_support: float,
                      num_pairs: int, nu: float, variant: str, alpha: float, eps: float,
                      pos_weight: Optional[Tensor], neg_weight: Optional[Tensor]) -> Tensor:
    """The estimate of :func:`sampled_pairs_loss` from the pairs' squared distances."""
    neg_term = _ZERO_P_FN[variant](student_t(d_neg, nu), alpha, eps)
    neg_sum = (neg_term * neg_weight).sum() if neg_weight is not None \
        else neg_term.sum() * (num_pairs / max(1, neg_term.numel()))
    pos_sum = _positive_sum(d_pos, p_pos, num_support, nu, variant, alpha, eps, pos_weight)
    return (pos_sum + neg_sum) / num_pairs


def _positive_sum(d_pos: Tensor, p_pos: Tensor, num_support: float, nu: float, variant: str,
                  alpha: float, eps: float, pos_weight: Optional[Tensor]) -> Tensor:
    """The support pairs' part of the estimate, sum of (l(p, q) - l(0, q)) scaled to S."""
    p_pos = p_pos.detach()
    q_pos = student_t(d_pos, nu)
    pos_term = (_ELEMENTWISE_FN[variant](p_pos, q_pos, alpha, eps)
                - _ZERO_P_FN[variant](q_pos, alpha, eps))
    if pos_weight is not None:
        return (pos_term * pos_weight).sum()
    return pos_term.sum() * (num_support / max(1, p_pos.numel()))
