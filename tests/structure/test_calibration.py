import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from genurl_pyg.structure import calibrate


def test_matches_scalar_root_finding():
    rng = np.random.default_rng(0)
    dist = np.sort(rng.uniform(0.5, 3.0, size=(50, 10)), axis=1)
    rho, sigma = calibrate(torch.from_numpy(dist), nu=100.0)
    target = math.log2(10)
    for i in range(50):
        ex = np.maximum(dist[i] - dist[i, 0], 0)
        f = lambda s: ((1 + ex / s / 100.0) ** -101).sum() - target
        ref = brentq(f, 1e-8, 1e3, xtol=1e-14)
        assert rho[i].item() == pytest.approx(dist[i, 0])
        assert sigma[i].item() == pytest.approx(ref, rel=1e-8)


def test_duplicates_keep_finite_scales():
    dist = torch.tensor([[0.0, 0.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    rho, sigma = calibrate(dist)
    assert rho[0] == 1.0 and rho[1] == 0.0
    assert torch.isfinite(sigma).all() and (sigma > 0).all()


def test_bad_inputs():
    with pytest.raises(ValueError, match="'dist'"):
        calibrate(torch.tensor([[1.0, -1.0]]))
    with pytest.raises(ValueError, match="'dist'"):
        calibrate(torch.ones(5))
    with pytest.raises(ValueError, match="'nu'"):
        calibrate(torch.ones(3, 2), nu=0.0)
