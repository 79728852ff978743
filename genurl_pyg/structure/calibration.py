r"""Per-point calibration of neighbourhood scales (DSM step 2, UMAP style).

Given each point's distances :math:`d_{i1} \le \dots \le d_{ik}` to its neighbours,

.. math::
    \rho_i = \min\{d_{ij} : d_{ij} > 0\} \quad (0 \text{ if all are } 0), \qquad
    \sum_{j=1}^{k} \hat\kappa_\nu\!\left(\frac{\max(d_{ij} - \rho_i, 0)}{\sigma_i}\right)
    = \log_2 k,

where :math:`\hat\kappa_\nu(t) = (1 + t/\nu)^{-(\nu+1)}` is the peak-normalised Student-t
kernel (:math:`\nu=\infty` gives UMAP's :math:`e^{-t}`). The left side grows monotonically
with :math:`\sigma_i`, so :math:`\sigma_i` is found by bisection, vectorised over all rows:
``n_iter`` rounds of O(N·k) work. Rows where no :math:`\sigma` reaches the target (all
neighbours at distance :math:`\rho_i`) keep the upper bracket; :math:`\sigma_i` is floored at
``min_sigma_ratio`` times the mean distance so that duplicate-heavy data stays finite.
"""
from __future__ import annotations

import math
from typing import Tuple

import torch
from torch import Tensor

from .._validation import check_positive_float, check_positive_int, check_tensor
from .kernels import student_t

DEFAULT_INPUT_NU = 100.0


def check_distance_rows(dist) -> Tensor:
    """``dist`` as a validated ``[N, k]`` floating tensor of finite, non-negative distances
    (k >= 1), or an error naming what is wrong."""
    dist = check_tensor(dist, 'dist')
    if dist.dim() != 2 or dist.size(1) < 1:
        raise ValueError(f"'dist' must have shape [N, k] with k >= 1, got {tuple(dist.shape)}")
    if not dist.is_floating_point():
        raise TypeError(f"'dist' must be floating point, got {dist.dtype}")
    if not bool(torch.isfinite(dist).all()) or bool((dist < 0).any()):
        raise ValueError("'dist' must be finite and non-negative")
    return dist


def calibrate(dist: Tensor, nu: float = DEFAULT_INPUT_NU, target: float | None = None,
              n_iter: int = 64, min_sigma_ratio: float = 1e-3) -> Tuple[Tensor, Tensor]:
    r"""Finds :math:`(\rho_i, \sigma_i)` for every row of a kNN distance matrix.

    Args:
        dist (Tensor): ``[N, k]`` non-negative distances (rows need not be sorted).
        nu (float): input-side degrees of freedom of the kernel (default 100, near-Gaussian).
        target (float, optional): the per-row kernel sum to reach, default :math:`\log_2 k`
            (at least 1, so that k = 1 stays well defined).
        n_iter (int): bisection rounds; 64 rounds reach float64 resolution.
        min_sigma_ratio (float): floor of :math:`\sigma_i` relative to the mean distance.

    Returns:
        (Tensor, Tensor): ``rho`` and ``sigma``, each ``[N]``.
    """
    dist = check_distance_rows(dist)
    check_positive_float(nu, 'nu')
    check_positive_int(n_iter, 'n_iter')
    k = dist.size(1)
    if target is None:
        target = max(math.log2(k), 1.0) if k > 1 else 1.0
    target = min(float(target), float(k))  # a sum of k values <= 1 cannot exceed k

    positive = torch.where(dist > 0, dist, torch.full_like(dist, float('inf')))
    rho = positive.min(dim=1).values
    rho = torch.where(torch.isfinite(rho), rho, torch.zeros_like(rho))
    excess = (dist - rho.unsqueeze(1)).clamp_min(0)

    mean_dist = dist.mean()
    floor = float(mean_dist) * min_sigma_ratio if float(mean_dist) > 0 else 1e-12
    lo = torch.full_like(rho, 0.0)
    hi = torch.full_like(rho, 1.0)
    # Grow the upper bracket until every row's sum reaches the target (or stops growing).
    for _ in range(64):
        sums = student_t(excess / hi.unsqueeze(1), nu, normalize=True).sum(dim=1)
        short = sums < target
        if not bool(short.any()):
            break
        hi = torch.where(short, hi * 2, hi)
    for _ in range(n_iter):
        mid = (lo + hi) / 2
        sums = student_t(excess / mid.clamp_min(1e-300).unsqueeze(1), nu, normalize=True).sum(1)
        too_big = sums > target
        hi = torch.where(too_big, mid, hi)
        lo = torch.where(too_big, lo, mid)
    sigma = ((lo + hi) / 2).clamp_min(floor)
    return rho, sigma


def calibrated_weights(dist: Tensor, rho: Tensor, sigma: Tensor,
                       nu: float = DEFAULT_INPUT_NU) -> Tensor:
    r"""Membership strengths :math:`w_{ij} = \hat\kappa_\nu(\max(d_{ij}-\rho_i,0)/\sigma_i)`.

    ``dist`` is ``[N, k]`` (or ``[E]`` with ``rho``/``sigma`` already gathered per entry);
    values lie in (0, 1], with 1 for each row's nearest neighbour.
    """
    if dist.dim() == 2:
        rho, sigma = rho.unsqueeze(1), sigma.unsqueeze(1)
    return student_t((dist - rho).clamp_min(0) / sigma, nu, normalize=True)
