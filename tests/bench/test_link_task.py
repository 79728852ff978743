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


def test_a_budget_cut_training_leaves_the_probe_its_measured_reserve(tmp_path, monkeypatch):
    import time

    import genurl_pyg.bench.tasks.link as link
    seen = {}
    real = link.embed_nodes

    def spy(method, data, dataset, seed, params, deadline):
        seen['deadline'] = deadline
        return real(method, data, dataset, seed, params, deadline)

    monkeypatch.setattr(link, 'embed_nodes', spy)
    monkeypatch.setattr(link, 'scoring_reserve', lambda n, pairs, probe: 100.0)
    now = time.perf_counter()
    ctx = CellContext(tmp_path, tmp_path, deadline=now + 1000.0, end=now + 150.0)
    out = TASK.run(CellSpec('link', 'KarateClub', 'raw', 0, 150, {'probe_epochs': 1}), ctx)
    assert seen['deadline'] == pytest.approx(now + 50.0)  # end - reserve, before the share
    assert out['extra']['scoring_reserve_s'] == 100.0 and out['extra']['scoring_s'] >= 0.0
    # without an end (no budget) the deadline is the context's own
    assert CellContext(tmp_path, tmp_path, deadline=now, end=None).deadline_before(5.0) == now


def test_the_reserve_covers_the_probe_at_the_widest_embedding(tmp_path):
    from genurl_pyg.bench.tasks.link import RESERVE_FIXED_S, scoring_reserve
    from genurl_pyg.datasets import load_dataset
    from genurl_pyg.evaluation.link import random_link_split
    split = random_link_split(load_dataset('KarateClub'), 0.05, 0.1, 0)
    pairs = (split.train_pos, split.val_pos, split.val_neg, split.test_pos, split.test_neg)
    short = scoring_reserve(34, pairs, dict(epochs=1, batch_size=8))
    assert short > RESERVE_FIXED_S
    assert scoring_reserve(34, pairs, dict(epochs=200, batch_size=8)) > short
