"""The link task's two probes on KarateClub: the default one chooses its epoch by AUC, the
``probe: ogb`` one (OGB's ddi predictor) by Hits@20; bad probe names are refused."""
import pytest

from genurl_pyg.bench.schema import CellSpec
from genurl_pyg.bench.tasks import CellContext
from genurl_pyg.bench.tasks.link import TASK


def cell(tmp_path, **params):
    spec = CellSpec('link', 'KarateClub', 'raw', 0, 60, params)
    return TASK.run(spec, CellContext(tmp_path, tmp_path))


def test_probes_choose_their_epoch_on_their_metric(tmp_path):
    ogb = cell(tmp_path, probe='ogb', probe_epochs=3, probe_batch=64)
    assert ogb['extra']['probe'] == 'ogb' and ogb['extra']['probe_selects_on'] == 'hits@20'
    assert ogb['extra']['probe_epochs'] == 3 and 1 <= ogb['extra']['probe_epoch'] <= 3
    default = cell(tmp_path, probe_epochs=2)
    assert default['extra']['probe_selects_on'] == 'auc'
    assert default['extra']['probe_epochs'] == 2
    for r in (ogb, default):
        assert set(r['metrics']) == {'auc', 'auc_dot', 'hits@20'}
        assert all(0.0 <= v <= 1.0 for v in r['metrics'].values())
        assert 0.0 <= r['extra']['val_hits@20'] <= 1.0 and 0.0 <= r['extra']['val_auc'] <= 1.0


def test_an_unknown_probe_is_refused(tmp_path):
    with pytest.raises(ValueError, match="link cell 'probe' must be 'default' or 'ogb'"):
        cell(tmp_path, probe='long')


def test_the_full_suite_scores_ogbl_ddi_with_ogbs_predictor():
    from genurl_pyg.bench.suites import suite_cells
    ddi = [c for c in suite_cells('full', ['link']) if c.dataset == 'ogbl-ddi']
    assert {c.method for c in ddi} == {'node2vec', 'genurl'} and len(ddi) == 6
    assert all(c.params['probe'] == 'ogb' for c in ddi)
    assert all(c.params['epochs'] == 100 for c in ddi if c.method == 'node2vec')
