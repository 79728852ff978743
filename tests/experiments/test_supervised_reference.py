"""experiments/supervised_reference.py on KarateClub: the width and epoch are chosen on
validation, the report renders, and a GCN on the labels beats chance by far."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import supervised_reference as sr  # noqa: E402


def test_reference_rows_choose_on_validation():
    r = sr.run_dataset('KarateClub', 2, 30)
    assert r['protocol'] == 'random-50/25/25' and len(r['seeds']) == 2
    for s in r['seeds']:
        best = max(s['all_widths'].values(), key=lambda v: v[0])
        assert [s['val'], s['test'], s['epoch']] == list(best)
        assert 1 <= s['epoch'] <= 30
    assert r['test_mean'] > 0.5  # 4 classes: chance is about 0.25
    md = sr._markdown({'commands': ['x'], 'rows': {'KarateClub': r}})
    assert '| KarateClub | random-50/25/25 | 2 |' in md
