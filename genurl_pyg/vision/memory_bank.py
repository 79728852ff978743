r"""P's feature part from a memory bank of past projections (``SSLConfig.memory_bank``).

The method doc (``../shared/docs/genurl_method.md``, items 8 and the SSL row) builds the
dynamic part of P from "kNN of EMA features": the neighbours of a view are found among
the other views of its batch, under an EMA teacher. A batch of ``B`` images holds about
``B / C`` images of each of ``C`` classes, so those neighbours are few and far. The memory
bank (Wu et al. 2018; NNCLR's support set, Dwibedi et al. 2021) is the other source the
issue names: the last ``M`` projections the online network produced, kept without
gradient, so that each view's neighbours are looked up among ``M`` images instead of
``2B`` views.

In GenURL's terms (ours where the paper is silent):

* the bank holds, first in first out, the projections of each step's first views (the
  points Q sees: on the radius-``latent_radius`` sphere when it is set) with their image
  ids;
* from ``knn_start`` on, once the bank is full, each of the ``2B`` views gets as P's
  feature part its ``k`` nearest bank entries by cosine similarity, entries of its own
  image left out, with UMAP-style memberships :math:`w_{im}` calibrated per row as the
  batch kNN's are (:func:`~genurl_pyg.structure.calibration.calibrate`: the ``k``
  memberships sum to :math:`\log_2 k`), so
  :math:`P = \lambda P_{\text{views}} + (1 - \lambda) P_{\text{bank}}` with
  :math:`\lambda` = ``view_weight``, over the columns ``[2B views; M bank entries]``;
* Q runs from each view to the bank's entries as to the batch's other views (the
  Student-t kernel of the distance to a fixed point), and only the bank pairs with
  :math:`p > 0` enter the loss: the repulsion stays the batch's own, so the bank changes
  *which* images are P's neighbours and nothing else (the EMA teacher's kNN being the
  alternative measured against it).

* with ``memory_bank_agree`` a bank entry stays P's neighbour of a view only when the
  other view of the same image also has it among its ``k`` nearest (the two lookups
  corroborate each other; the memberships are those calibrated over all ``k``, the
  uncorroborated ones set to 0, so an image whose views agree on nothing keeps only its
  view pair). Ours: the session-51 purity diagnostic found the bank's neighbours share
  the view's class 59 % of the time, too few for positives; agreement filters by
  consistency under augmentation rather than by count.

Cost per step: O(B·M·d) for the similarities and the kernel, O(B·M) memory, O(B·k²) for
the agreement; the bank itself O(M·d).
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch
from torch import Tensor

from .._validation import check_positive_int
from ..structure.calibration import calibrate, calibrated_weights
from .objective import view_edges


class MemoryBank:
    """A first-in-first-out store of ``size`` past projections ``[size, dim]`` and the ids
    of their images (``-1`` where nothing is stored yet).

    Args:
        size: ``M``, the entries kept.
        dim: the projections' width.
        device: where the entries live (the training device).
    """

    def __init__(self, size: int, dim: int, device=None) -> None:
        self.size = check_positive_int(size, 'size')
        self.dim = check_positive_int(dim, 'dim')
        self.points = torch.zeros(self.size, self.dim, device=device)
        self.ids = torch.full((self.size,), -1, dtype=torch.long, device=device)
        self.next = 0  # the slot the next entry is written to
        self.count = 0  # entries written so far, at most size

    def __repr__(self) -> str:
        return f'MemoryBank(size={self.size}, dim={self.dim}, filled={self.count})'

    @property
    def full(self) -> bool:
        return self.count == self.size

    @torch.no_grad()
    def push(self, points: Tensor, ids: Tensor) -> None:
        """Stores ``points`` ``[n, dim]`` (detached) with their image ``ids`` ``[n]``,
        overwriting the oldest entries. O(n·dim)."""
        if points.dim() != 2 or points.size(1) != self.dim:
            raise ValueError(f'bank entries must be [n, {self.dim}], got {tuple(points.shape)}')
        if ids.shape != (points.size(0),):
            raise ValueError(f'bank ids must be [{points.size(0)}], got {tuple(ids.shape)}')
        n = points.size(0)
        if n > self.size:  # only the last `size` of them would survive
            points, ids, n = points[-self.size:], ids[-self.size:], self.size
        slots = (self.next + torch.arange(n, device=self.points.device)) % self.size
        self.points[slots] = points.detach().to(self.points)
        self.ids[slots] = ids.to(self.ids)
        self.next = (self.next + n) % self.size
        self.count = min(self.size, self.count + n)

    def state_dict(self) -> Dict:
        return {'points': self.points.clone(), 'ids': self.ids.clone(), 'next': self.next,
                'count': self.count}

    def load_state_dict(self, state: Dict) -> None:
        if tuple(state['points'].shape) != (self.size, self.dim):
            raise ValueError(f"the saved bank is {tuple(state['points'].shape)}, this one "
                             f'[{self.size}, {self.dim}]')
        self.points.copy_(state['points'])
        self.ids.copy_(state['ids'])
        self.next, self.count = int(state['next']), int(state['count'])


def nearest_other_images(sim: Tensor, row_ids: Tensor, col_ids: Tensor,
                         k: int) -> Tuple[Tensor, Tensor]:
    """Each row's ``k`` largest entries of ``sim`` ``[R, C]`` among the columns whose image
    id differs from the row's: ``(values, column indices)``, both ``[R, k]``. O(R·C)."""
    same = row_ids.unsqueeze(1) == col_ids.unsqueeze(0)
    return sim.masked_fill(same, float('-inf')).topk(k, dim=1)


def agreed_between_views(nearest: Tensor) -> Tensor:
    """Which of each view's neighbours the other view of its image also found.

    ``nearest`` ``[2B, k]`` holds column indices, the rows stacked ``[first views; second
    views]`` (row ``i`` and row ``i + B`` are the two views of one image). Returns a mask
    ``[2B, k]``, ``True`` where ``nearest[r, a]`` is among the other view's ``k``. O(B·k²).
    """
    if nearest.dim() != 2 or nearest.size(0) % 2:
        raise ValueError(f'agreement needs [2B, k] neighbour indices, got '
                         f'{tuple(nearest.shape)}')
    b = nearest.size(0) // 2
    first, second = nearest[:b], nearest[b:]
    in_second = (first.unsqueeze(2) == second.unsqueeze(1)).any(2)
    in_first = (second.unsqueeze(2) == first.unsqueeze(1)).any(2)
    return torch.cat([in_second, in_first])


@torch.no_grad()
def bank_similarity(z: Tensor, ids: Tensor, bank: MemoryBank, k: int,
                    view_weight: float, agree: bool = False) -> Tuple[Tensor, Tensor]:
    r"""P over the columns ``[2B views; M bank entries]`` and the pairs left out of the
    loss, for the ``2B`` views ``z`` (stacked ``[first views; second views]``) of the
    images ``ids`` ``[2B]`` (see the module doc).

    Returns:
        ``(p, no_repulsion)``, both ``[2B, 2B + M]``: ``p`` holds :math:`\lambda` on the
        view pairs and :math:`(1 - \lambda) w_{im}` on each view's ``k`` nearest bank
        entries of other images (with ``agree``, only on those the other view of the
        image also found); ``no_repulsion`` is ``True`` on every bank column (so the bank
        pairs with :math:`p = 0` leave the loss).
    """
    n = z.size(0)
    if n % 2 or ids.shape != (n,):
        raise ValueError(f'bank similarity needs 2B views and their 2B image ids, got '
                         f'{tuple(z.shape)} and {tuple(ids.shape)}')
    if not bank.full:
        raise ValueError(f'the memory bank holds {bank.count} of its {bank.size} entries; '
                         'P reads it once it is full')
    b, m = n // 2, bank.size
    sim = torch.nn.functional.normalize(z.float(), dim=1) @ \
        torch.nn.functional.normalize(bank.points, dim=1).t()
    top, nearest = nearest_other_images(sim, ids, bank.ids, k)
    if torch.isinf(top).any():  # a view's own-image entries filled its k: counted only here
        others = int((ids.unsqueeze(1) != bank.ids.unsqueeze(0)).sum(1).min())
        raise ValueError(f'a view has only {others} bank entries of other images, fewer '
                         f"than 'k' = {k}: use a larger memory bank")
    dist = (1 - top).clamp_min(0)  # cosine distance, in [0, 2]
    rho, sigma = calibrate(dist)
    p = torch.zeros(n, n + m, device=z.device)
    views = view_edges(b, z.device)
    p[views[0], views[1]] = float(view_weight)
    rows = torch.arange(n, device=z.device)
    weights = calibrated_weights(dist, rho, sigma)
    if agree:
        weights = weights * agreed_between_views(nearest)
    p[rows.unsqueeze(1), n + nearest] = (1 - float(view_weight)) * weights
    no_repulsion = torch.zeros(n, n + m, dtype=torch.bool, device=z.device)
    no_repulsion[:, n:] = True
    return p, no_repulsion

