"""experiments/probe_memory.py on KarateClub: the probe's scores are those of a direct
call, and the peaks are ordered (after >= before)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import probe_memory  # noqa: E402


def test_probe_memory_reports_the_probes_own_result(capsys):
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.evaluation import linear_probe, split_for
    out = probe_memory.main(['--dataset', 'KarateClub', '--seed', '1'])
    data = load_dataset('KarateClub')
    tr, va, te = split_for(data, get_spec('KarateClub').protocol, 1)
    ref = linear_probe(data.x, data.y, tr, va, te)
    assert (out['C'], out['val'], out['test']) == (ref.C, ref.val_accuracy, ref.test_accuracy)
    assert out['peak_after_mb'] >= out['peak_before_mb'] > 0
    assert 'KarateClub seed 1: peak RSS' in capsys.readouterr().out
