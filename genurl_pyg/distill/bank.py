r"""A graph-free structural code: the teacher's embeddings of the training rows, looked up by
feature similarity (ours; issue 15).

A student that reads a node's features alone cannot see the node's neighbours, which is
what its GNN teacher read; on Cora's unseen nodes that costs about 12 points against the
teacher. The training rows carry the teacher's view of the graph, so an unseen node can
borrow it from the training rows whose *features* resemble its own, with no edge of its
own needed:

.. math::
    c(x) = \frac{\sum_{j \in N_k(x)} w_j\, \tilde t_j}{\sum_{j \in N_k(x)} w_j},
    \qquad w_j = \max(0, \cos(x, x_j)),

where :math:`N_k(x)` are the :math:`k` training rows most cosine-similar to :math:`x`
(rows whose features coincide with :math:`x`'s are skipped, so a training row never reads
its own teacher embedding and training rows and new rows get their code by the same
rule), and :math:`\tilde t_j` the teacher's embedding of row :math:`j`, standardised per
column over the training rows. A row with no positively similar training row gets the
zero code (the training rows' mean).

Cost: a lookup of :math:`M` rows is one chunked brute-force search over the :math:`N`
training rows' own features, :math:`O(M N D)` time (the bank keeps a reference to the
features and their :math:`N` norms, no copy of float32 features), memory
:math:`O(N d_t)` for the standardised teacher rows plus :math:`O(C N)` per chunk of
:math:`C` queries. Sparse features (at most :data:`SPARSE_DENSITY` of the entries
non-zero: bag-of-words rows) are searched as a CSR matrix, :math:`O(\mathrm{nnz}\cdot C)`
per chunk instead of :math:`O(N D C)`, memory :math:`O(\mathrm{nnz})` more; the mean over
the :math:`k` rows is one sparse product with the :math:`M \times N` weight matrix,
:math:`O(M k d_t)` without an :math:`M \times k \times d_t` gather. Both give the dense
path's products exactly on binary features (all of Cora's nodes in a bank of half of them:
0.63 → 0.15 s on one thread, CiteSeer 1.71 → 0.64 s;
``experiments/results/bank_search_speed.md``).
``max_dim`` trades neighbours for time: wider features are then
searched on a rank-``max_dim`` projection (randomised SVD of the unit rows,
:func:`~genurl_pyg.structure.builder.project_features`), :math:`O(M N\,` ``max_dim``
:math:`)`. On Cora's unseen nodes the code alone read 69.5 % with the raw features and
67.3 % on a rank-256 projection (three seeds, k 20;
``experiments/results/kd_inductive_bank_cora.md``), so the
default is the raw search.

Ties: on binary or count features many training rows share the :math:`k`-th similarity,
and which of them the search keeps follows the float32 rounding of the products. The code
is the same on every call on one machine, but another formulation or BLAS may keep another
of the tied rows (on Cora, seed 0 of the inductive protocol: 213 of 2,708 codes differed
between this search and a normalise-then-multiply one, held-out accuracy 72.8 against
74.0), so a difference of about a point between two such runs is noise, not a change.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .._validation import check_features, check_positive_int


def _inverse_norms(x: Tensor) -> Tensor:
    """``1 / ||x_i||`` per row, 0 for all-zero rows (whose cosine is then 0 to every row)."""
    norm = x.norm(dim=1)
    return torch.where(norm > 0, 1.0 / norm.clamp_min(1e-30), torch.zeros_like(norm))


#: Cosine similarity above which a training row counts as the query itself (a squared
#: distance below 2e-6 between the unit rows).
COINCIDENT = 1.0 - 1e-6
_CHUNK_BYTES = 128 * 2**20
#: Keys with at most this share of non-zero entries are searched as a sparse (CSR) matrix.
#: The search product alone on one thread: CiteSeer's rows (0.9 % non-zero) 1.31 → 0.25 s as
#: CSR, Photo's (35 %) 1.46 → 12.5 s, so dense wins long before a third of the entries.
SPARSE_DENSITY = 0.05


def _sparse_keys(keys: Tensor) -> Optional[Tensor]:
    """``keys`` as CSR when sparse enough to search that way (module doc), else ``None``."""
    if keys.numel() == 0 or keys.count_nonzero().item() > SPARSE_DENSITY * keys.numel():
        return None
    return keys.to_sparse_csr()


class TeacherBank:
    r"""The teacher's view of the graph, readable from features alone (module doc: the
    math and the cost).

    Args:
        x (Tensor): ``[N, D]`` features of the training rows.
        teacher (Tensor): ``[N, d_t]`` the teacher's embeddings of the same rows.
        k (int): training rows per lookup, :math:`1 \le k < N`.
        max_dim (int, optional): features wider than this are searched on a rank-``max_dim``
            projection (default ``None``: the raw features).
        seed (int): seed of the projection's randomised SVD.
    """

    def __init__(self, x: Tensor, teacher: Tensor, k: int = 20,
                 max_dim: Optional[int] = None, seed: int = 0) -> None:
        from ..structure.builder import project_features
        x = check_features(x, 'x', min_rows=2).float()
        teacher = check_features(teacher, 'teacher embeddings', min_rows=2).float()
        if teacher.size(0) != x.size(0):
            raise ValueError(f'the teacher embeddings have {teacher.size(0)} rows but the '
                             f'features have {x.size(0)}: one teacher row per training row')
        self.k = check_positive_int(k, 'k')
        if self.k >= x.size(0):
            raise ValueError(f"'k' must be smaller than the {x.size(0)} training rows, got {k}")
        if max_dim is not None:
            check_positive_int(max_dim, 'max_dim')
        self.in_channels = x.size(1)
        self.keys, self.basis = project_features(x, max_dim, 'cosine', seed)
        self._index_keys()
        mean, std = teacher.mean(0), teacher.std(0).clamp_min(1e-12)
        self.values = (teacher - mean) / std

    def _index_keys(self) -> None:
        """What the search derives from ``keys`` (built or reloaded): their inverse norms and,
        for sparse keys, their CSR form."""
        self.inv_norms = _inverse_norms(self.keys)  # all-zero rows: 0, so they weigh nothing
        self.sparse_keys = _sparse_keys(self.keys)

    @property
    def out_channels(self) -> int:
        return self.values.size(1)

    @torch.no_grad()
    def __call__(self, x: Tensor) -> Tensor:
        """The ``[M, d_t]`` codes of the rows of ``x`` (``[M, D]`` features)."""
        x = check_features(x, 'x').float()
        if x.size(1) != self.in_channels:
            raise ValueError(f"'x' has {x.size(1)} columns but the bank was built on "
                             f'{self.in_channels}')
        x = x.to(self.keys.device)
        if self.basis is not None:  # the projection the training rows were searched in
            x = (x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)) @ self.basis
        n = self.keys.size(0)
        chunk = max(1, _CHUNK_BYTES // (4 * n))
        out = []
        for q in x.split(chunk):
            if self.sparse_keys is not None:  # [n, C] from the CSR rows, then query-major
                sim = (self.sparse_keys @ q.T).T.contiguous()
            else:
                sim = q @ self.keys.T
            sim.mul_(_inverse_norms(q).unsqueeze(1)).mul_(self.inv_norms)
            sim[sim > COINCIDENT] = float('-inf')  # the row itself (or a duplicate of it)
            top, index = sim.topk(self.k, dim=1)
            del sim
            out.append(self._weighted_mean(top.clamp_min(0.0), index))  # -inf, dissimilar: 0
        return torch.cat(out) if out else x.new_zeros(0, self.out_channels)

    def _weighted_mean(self, w: Tensor, index: Tensor) -> Tensor:
        """Row ``m``: the ``w[m]``-weighted mean of ``values[index[m]]`` (zero where every
        weight is 0), as one sparse ``[M, N] @ [N, d_t]`` product (module doc: the cost)."""
        m, k = index.shape
        crow = torch.arange(0, m * k + 1, k, device=index.device)
        weights = torch.sparse_csr_tensor(crow, index.reshape(-1), w.reshape(-1),
                                          size=(m, self.values.size(0)))
        code = weights @ self.values
        total = w.sum(1, keepdim=True)
        return torch.where(total > 0, code / total.clamp_min(1e-12), torch.zeros_like(code))

    def state_dict(self) -> dict:
        """What :meth:`from_state_dict` needs to answer lookups again: the search keys (the
        training rows' features, or their projection), the projection basis and the
        standardised teacher rows; the size of the features plus ``N d_t``."""
        return {'keys': self.keys, 'basis': self.basis, 'values': self.values, 'k': self.k,
                'in_channels': self.in_channels}

    @classmethod
    def from_state_dict(cls, state: dict) -> 'TeacherBank':
        """The bank :meth:`state_dict` saved (a dict missing a key is a ``ValueError``)."""
        missing = sorted({'keys', 'basis', 'values', 'k', 'in_channels'} - set(state))
        if missing:
            raise ValueError(f'not a TeacherBank state: {missing} missing')
        bank = cls.__new__(cls)
        bank.keys, bank.basis, bank.values = state['keys'], state['basis'], state['values']
        bank.k, bank.in_channels = int(state['k']), int(state['in_channels'])
        bank._index_keys()
        return bank

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(rows={self.keys.size(0)}, k={self.k}, '
                f'search_dim={self.keys.size(1)}, out_channels={self.out_channels})')
