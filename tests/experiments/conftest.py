import pytest


@pytest.fixture
def probed_test_masks(monkeypatch):
    """The test masks every ``genurl_pyg.evaluation.linear_probe`` call scores, in call
    order (the probe runs as usual): lets a test check that held-out experiments never
    score a test node."""
    import genurl_pyg.evaluation as ev
    real, masks = ev.linear_probe, []

    def spy(h, y, train, val, test, **kw):
        masks.append(test.clone())
        return real(h, y, train, val, test, **kw)

    monkeypatch.setattr(ev, 'linear_probe', spy)
    return masks
