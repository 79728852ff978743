"""experiments/correlation_speed.py: its 'before' form is the term as autograd computes it,
so the written-out backward it times against must agree with it on the same probes."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import correlation_speed as cs  # noqa: E402


def test_kernel_rows_time_equal_functions(monkeypatch):
    monkeypatch.setattr(cs, 'KERNEL_SHAPES', [('small', 60, 9)])
    (row,) = cs.kernel_rows(repeats=1, probes=4)
    assert row['value_rel_diff'] < 1e-5 and row['grad_rel_diff'] < 1e-5
    assert all(row[f'{k}_ms'] > 0 for k in ('before', 'after', 'exact'))


def test_seed_variants_are_valid_over_coras_shipped_config():
    """The timed variants build over cora.yaml (a variant the config refuses would only
    fail after the kernels had run)."""
    from genurl_pyg.node import dataset_defaults
    base = dataset_defaults('Cora')
    for change in cs.SEED_VARIANTS.values():
        base.__class__.from_dict(change, base=base)
