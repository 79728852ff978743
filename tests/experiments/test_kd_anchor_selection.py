"""experiments/kd_anchor_selection.py end to end on KarateClub (two epochs): one row per
beta with a fidelity and a held-out accuracy in [0, 1], the best of each marked, and the
test nodes never probed."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import kd_anchor_selection as kas  # noqa: E402


def test_a_smoke_run_writes_one_row_per_beta(monkeypatch, probed_test_masks):
    written = {}
    monkeypatch.setattr(kas, 'write_results', lambda stem, payload, md: written.update(
        stem=stem, payload=payload, md=md))
    probed = probed_test_masks
    kas.main(['--datasets', 'KarateClub', '--seeds', '0', '--betas', '0', '0.1', '--k', '3',
              '--smoke', '--out', 'kd_sel_test'])
    record = written['payload']['records'][0]
    assert written['stem'] == 'kd_sel_test' and [r['beta'] for r in record['rows']] == [0, 0.1]
    for r in record['rows']:
        assert 0.0 <= r['fidelity'] <= 1.0 and 0.0 <= r['held_val_acc'] <= 1.0
    assert 0.0 <= record['feature_teacher_overlap'] <= 1.0
    assert written['md'].count('| KarateClub | 0 |') == 2 and '**' in written['md']
    # every probe scored the held-out validation nodes, never a test node
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.evaluation import split_for
    data = load_dataset('KarateClub')
    _, _, test = split_for(data, get_spec('KarateClub').protocol, 0)
    assert probed and all(not (m & test).any() for m in probed)


def test_negative_betas_are_refused():
    with pytest.raises(SystemExit):
        kas.main(['--betas', '-0.1'])
