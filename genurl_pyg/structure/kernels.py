r"""Heavy-tailed Student-t similarity kernels (GenURL's input and embedding kernels).

For a *squared* distance :math:`d \ge 0` and degrees of freedom :math:`\nu > 0`

.. math::
    \kappa_\nu(d) = C_\nu \left(1 + \frac{d}{\nu}\right)^{-(\nu + 1)},
    \qquad
    C_\nu = 2\pi \left(\frac{\Gamma\!\left(\frac{\nu+1}{2}\right)}
                          {\sqrt{\nu\pi}\,\Gamma\!\left(\frac{\nu}{2}\right)}\right)^{2}.

:math:`C_\nu` is the peak :math:`\kappa_\nu(0)`; as :math:`\nu \to \infty`,
:math:`C_\nu \to 1` and :math:`\kappa_\nu(d) \to e^{-d}` (a Gaussian in the distance).
Small :math:`\nu` gives the heavy tail that separates clusters in the embedding.

Everything is evaluated in log space (``lgamma``, ``log1p``), and the constant is always
computed in float64, so that :math:`\nu \in [10^{-3}, 10^{3}]` is exact in float64 and finite
in float32. Cost: O(numel).
"""
from __future__ import annotations

import math
from typing import Union

import torch
from torch import Tensor

from .._validation import check_positive_float, check_tensor

Nu = Union[float, Tensor]


def log_student_t_constant(nu: Nu) -> Tensor:
    r"""Returns :math:`\log C_\nu` in float64 (scalar tensor, or a tensor shaped like ``nu``)."""
    nu = check_positive_float(nu, 'nu')
    nu64 = torch.as_tensor(nu, dtype=torch.float64)
    return (math.log(2 * math.pi)
            + 2 * (torch.lgamma((nu64 + 1) / 2) - 0.5 * torch.log(nu64 * math.pi)
                   - torch.lgamma(nu64 / 2)))


def log_student_t(d: Tensor, nu: Nu, normalize: bool = False) -> Tensor:
    r"""Elementwise :math:`\log \kappa_\nu(d)` for squared distances ``d``.

    Args:
        d (Tensor): non-negative squared distances (any shape, floating point).
        nu (float or Tensor): degrees of freedom, :math:`\nu > 0` (broadcasts against ``d``).
        normalize (bool): if ``True``, drops :math:`C_\nu` so the peak is exactly 1
            (:math:`\hat\kappa_\nu = \kappa_\nu / C_\nu`), the form used for input similarities.
    """
    d = check_tensor(d, 'd')
    if not d.is_floating_point():
        raise TypeError(f"'d' must be a floating point tensor, got dtype {d.dtype}")
    nu = check_positive_float(nu, 'nu')
    nu_t = torch.as_tensor(nu, dtype=torch.float64 if d.dtype == torch.float64 else d.dtype,
                           device=d.device)
    # (nu + 1) * log1p(d / nu): log1p keeps small d / large nu accurate.
    out = -(nu_t + 1) * torch.log1p(d / nu_t)
    if not normalize:
        out = out + log_student_t_constant(nu).to(device=d.device, dtype=out.dtype)
    return out


def student_t(d: Tensor, nu: Nu, normalize: bool = False) -> Tensor:
    r"""Elementwise :math:`\kappa_\nu(d) = C_\nu (1 + d/\nu)^{-(\nu+1)}`.

    Args:
        d (Tensor): non-negative squared distances.
        nu (float or Tensor): degrees of freedom, :math:`\nu > 0`.
        normalize (bool): return :math:`\kappa_\nu(d)/C_\nu` (peak 1) instead.

    Returns:
        Tensor: same shape and dtype as ``d``.

    Raises:
        ValueError: if ``nu <= 0`` (or not finite).
        TypeError: if ``d`` is not a floating point tensor.
    """
    return log_student_t(d, nu, normalize=normalize).exp()
