"""experiments/link_variants.py on KarateClub: validation scores per seed through the
suite's link cell, test edges' scores only for the variants named in --read-test, and
misnamed --read-test refused."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import link_variants  # noqa: E402


def test_test_edges_are_read_only_when_named(monkeypatch):
    written = {}
    monkeypatch.setattr(link_variants, 'write_results', lambda stem, payload, md: written.update(
        payload=json.loads(json.dumps(payload)), md=md))
    link_variants.main(['--dataset', 'KarateClub', '--seeds', '0', '1',
                        '--variant', 'base=epochs=2', '--variant', 'k5=epochs=2,k=5',
                        '--read-test', 'k5', '--out', 'lv_test'])
    rows = written['payload']['rows']
    assert [r['seed'] for r in rows['base']] == [0, 1]
    assert all('test_auc' not in r and 0.0 <= r['val_auc'] <= 1.0 for r in rows['base'])
    assert all(0.0 <= r['test_auc'] <= 1.0 for r in rows['k5'])
    md = written['md']
    assert '| base | `' in md and 'vs base' in md
    assert md.split('| base |')[1].split('\n')[0].split('|')[4].strip() == ''  # no test AUC


def test_misnamed_read_test_is_refused(capsys):
    with pytest.raises(SystemExit):
        link_variants.main(['--variant', 'base=', '--read-test', 'other', '--out', 'x'])
    assert "--read-test names no variant: ['other']" in capsys.readouterr().err
