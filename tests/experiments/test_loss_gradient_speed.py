"""experiments/loss_gradient_speed.py: its 'before' forms are the block as autograd computed
it and the chunked positive-pair backward, so the written-out gradients it times against
must agree with them, and bfloat16 must differ (it is a change to the numbers)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import loss_gradient_speed as lgs  # noqa: E402


def test_kernel_rows_time_equal_functions(monkeypatch):
    for name, value in (('ROWS', 80), ('WIDTH', 24), ('COLUMNS', 7), ('PAIRS', 300)):
        monkeypatch.setattr(lgs, name, value)
    rows = lgs.kernel_rows(repeats=1)
    block, positives = rows['block'], rows['positives']
    for row, forms in ((block, ('before', 'after', 'bf16')), (positives, ('before', 'after'))):
        assert all(row[f'{form}_ms'] > 0 for form in forms)
    assert block['after_value_rel_diff'] < 1e-5 and block['after_grad_rel_diff'] < 1e-5
    assert positives['after_value_rel_diff'] < 1e-5 and positives['after_grad_rel_diff'] < 1e-5
    assert 0 < block['bf16_grad_rel_diff'] < 2e-2


def test_checkouts_alternate_seed_by_seed_in_child_processes(monkeypatch, tmp_path):
    """--compare-with: each seed runs in a fresh child per checkout, the two alternating,
    the child's PYTHONPATH set to its checkout (here a stand-in script prints it back)."""
    monkeypatch.setattr(lgs, '_ONE_SEED', 'import os, sys\n'
                        'print(os.environ["PYTHONPATH"], file=sys.stderr)\n'
                        'print(float(sys.argv[1]) + 0.5)')
    rows = lgs.checkout_rows(str(tmp_path), seeds=2, threads=1)
    assert rows['compared checkout']['root'] == str(tmp_path.resolve())
    assert rows['compared checkout']['seconds'] == [0.5, 1.5]
    assert rows['this checkout']['seconds'] == [0.5, 1.5]
    assert rows['this checkout']['median_s'] == 1.0


def test_seed_variants_are_valid_over_coras_shipped_config():
    """The timed variants build over cora.yaml (a variant the config refuses would only
    fail after the kernels had run)."""
    from genurl_pyg.node import dataset_defaults
    base = dataset_defaults('Cora')
    for change in lgs.SEED_VARIANTS.values():
        base.__class__.from_dict(change, base=base)
