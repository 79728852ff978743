"""experiments/node_training_change.py: linear CKA against its defining properties and a
hand computation, and bad inputs."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import node_training_change as ntc  # noqa: E402


def test_linear_cka_invariances_and_hand_value():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(200, 6, generator=g)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g))
    assert ntc.linear_cka(a, a) == pytest.approx(1.0)
    assert ntc.linear_cka(a, 3.0 * a @ q + 5.0) == pytest.approx(1.0)  # rotation, scale, shift
    assert ntc.linear_cka(a, torch.randn(200, 6, generator=g)) < 0.2  # unrelated
    # one column each: CKA is the squared Pearson correlation
    x, y = a[:, :1], a[:, :1] + 0.5 * a[:, 1:2]
    r = torch.corrcoef(torch.cat([x, y], 1).T)[0, 1]
    assert ntc.linear_cka(x, y) == pytest.approx(float(r ** 2), rel=1e-6)


def test_linear_cka_bad_inputs():
    with pytest.raises(ValueError, match='same N'):
        ntc.linear_cka(torch.randn(5, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match='constant'):
        ntc.linear_cka(torch.ones(5, 2), torch.randn(5, 2))
