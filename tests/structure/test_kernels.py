import math

import numpy as np
import pytest
import torch
from scipy.special import gammaln

from genurl_pyg.structure import student_t


def closed_form(d, nu):
    c = 2 * math.pi * math.exp(2 * (gammaln((nu + 1) / 2) - 0.5 * math.log(nu * math.pi)
                                     - gammaln(nu / 2)))
    return c * (1 + d / nu) ** (-(nu + 1))


@pytest.mark.parametrize('nu', [1e-3, 0.01, 0.1, 1.0, 10.0, 100.0, 1e3])
def test_matches_closed_form_float64(nu):
    d = torch.tensor([0.0, 1e-6, 0.5, 1.0, 3.0, 10.0, 100.0], dtype=torch.float64)
    got = student_t(d, nu).numpy()
    want = np.array([closed_form(v, nu) for v in d.tolist()])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)


@pytest.mark.parametrize('nu', [1e-3, 1.0, 1e3])
def test_finite_in_float32(nu):
    d = torch.tensor([0.0, 1.0, 1e4], dtype=torch.float32)
    out = student_t(d, nu)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    np.testing.assert_allclose(out.double().numpy(),
                               [closed_form(v, nu) for v in d.tolist()], rtol=1e-4)


def test_known_values_and_limits():
    # nu = 1: C = 2/pi (Cauchy squared-distance kernel).
    assert student_t(torch.tensor([0.0], dtype=torch.float64), 1.0).item() == pytest.approx(2 / math.pi)
    d = torch.linspace(0, 5, 11, dtype=torch.float64)
    # Large nu tends to exp(-d) with peak 1.
    torch.testing.assert_close(student_t(d, 1e7), torch.exp(-d), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(student_t(d, 3.0, normalize=True)[0], torch.tensor(1.0, dtype=torch.float64))


@pytest.mark.parametrize('nu', [0.0, -1.0, float('inf'), float('nan')])
def test_bad_nu(nu):
    with pytest.raises(ValueError, match='nu'):
        student_t(torch.ones(3), nu)


def test_bad_d_type():
    with pytest.raises(TypeError, match="'d'"):
        student_t([1.0, 2.0], 1.0)
    with pytest.raises(TypeError, match="'d'"):
        student_t(torch.ones(3, dtype=torch.long), 1.0)
