"""experiments/kd_input_choice.py: the check nodes are seeded and never trained on, the
fidelity equals a brute-force count of shared neighbours, the variant whose student keeps
the teacher's neighbourhoods is chosen, and bad options are refused."""
import json
import sys
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import kd_input_choice as kic  # noqa: E402


def test_check_nodes_are_seeded_and_sized():
    a = kic.check_nodes(1000, 0.2, 3)
    assert a.dtype == torch.bool and int(a.sum()) == 200
    assert torch.equal(a, kic.check_nodes(1000, 0.2, 3))
    assert not torch.equal(a, kic.check_nodes(1000, 0.2, 4))
    assert int(kic.check_nodes(3, 0.01, 0).sum()) == 1
    with pytest.raises(ValueError, match='check-fraction'):
        kic.check_nodes(10, 1.0, 0)


def _brute_knn(x, k):
    x = torch.nn.functional.normalize(x.double(), dim=1)
    d = 1 - x @ x.t()
    d.fill_diagonal_(float('inf'))
    return d.topk(k, largest=False).indices


def test_fidelity_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(120, 8, generator=g), torch.randn(120, 5, generator=g)
    rows = kic.check_nodes(120, 0.25, 0)
    bs, bt = _brute_knn(s, 7)[rows], _brute_knn(t, 7)[rows]
    expect = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(bs, bt)) / (7 * len(bs))
    nn_s, nn_t = kic.neighbours(s, 7, 'cosine'), kic.neighbours(t, 7, 'cosine')
    assert kic.fidelity(nn_s, nn_t, rows) == pytest.approx(expect)
    assert kic.fidelity(nn_t, nn_t, rows) == 1.0


def test_measure_trains_on_fit_nodes_only_and_chooses_the_faithful_student(monkeypatch):
    import genurl_pyg.datasets as datasets
    import genurl_pyg.distill.graph as graph
    import genurl_pyg.distill.run as run
    g = torch.Generator().manual_seed(1)
    n = 300
    data = Data(x=torch.randn(n, 12, generator=g),
                edge_index=torch.randint(0, n, (2, 900), generator=g),
                y=torch.randint(0, 3, (n,), generator=g))
    monkeypatch.setattr(datasets, 'load_dataset', lambda name: data)
    monkeypatch.setattr(datasets, 'get_spec', lambda name: type('S', (), {
        'protocol': 'random-10/10/80'})())
    # the teacher's embedding of the observed nodes is their features
    monkeypatch.setattr(run, 'train_teacher',
                        lambda d, ds, seed, held, over=None: (d.x[~held].clone(), None, 0, None))
    trained = []

    class Student:
        def __init__(self, faithful):
            self.faithful = faithful

        def embed(self, x):  # the features themselves, or noise
            return x if self.faithful else torch.randn(x.shape, generator=g)

    def fake_distill(fit_graph, teacher, seed, **kw):
        trained.append((fit_graph.num_nodes, teacher.size(0)))
        return Student(kw.get('input_weight', 0.0) == 0.0)
    monkeypatch.setattr(graph, 'distill_node_embeddings', fake_distill)
    variants = [('noise', {'input_weight': 1.0, 'k': 10}), ('faithful', {})]
    row = kic.measure('Fake', 0, variants, 0.2)
    fit = row['observed_nodes'] - row['check_nodes']
    assert trained == [(fit, fit), (fit, fit)]  # no check node in training
    assert row['check_nodes'] == round(0.2 * row['observed_nodes'])
    assert row['variants']['faithful']['check_fidelity'] == 1.0
    assert row['variants']['noise']['check_fidelity'] < 0.5
    assert row['choice'] == 'faithful'
    payload = {'variants': variants, 'check_fraction': 0.2, 'commands': ['c'],
               'conditions': [''], 'rows': [row]}
    assert '| Fake | 0 |' in kic.markdown(payload) and '| faithful |' in kic.markdown(payload)
    # each variant's k is its own (the row once recorded the last variant's for all)
    assert (row['variants']['noise']['k'], row['variants']['faithful']['k']) == (10, 50)
    assert f"| {row['check_nodes']:,} | 10/50 |" in kic.markdown(payload)
    old = {**row, 'k': 50, 'variants': {n: {kk: vv for kk, vv in v.items() if kk != 'k'}
                                        for n, v in row['variants'].items()}}
    assert f"| {row['check_nodes']:,} | 50 |" in kic.markdown({**payload, 'rows': [old]})


def test_merge_refuses_shared_rows_and_other_variants(tmp_path):
    row = {'dataset': 'Cora', 'seed': 0}
    base = {'variants': [['a', {}]], 'check_fraction': 0.2, 'commands': ['c'],
            'conditions': [''], 'rows': [row]}
    a, b = tmp_path / 'a.json', tmp_path / 'b.json'
    a.write_text(json.dumps(base))
    b.write_text(json.dumps(base))
    with pytest.raises(ValueError, match='share'):
        kic.merge([a, b])
    b.write_text(json.dumps({**base, 'variants': [['b', {}]], 'rows': [{**row, 'seed': 1}]}))
    with pytest.raises(ValueError, match='other variants'):
        kic.merge([a, b])


@pytest.mark.parametrize('argv', [['--out', '../x', '--variant', 'a='],
                                  ['--out', 'x', '--variant', 'a=', '--check-fraction', '0'],
                                  ['--out', 'x']])
def test_bad_options_are_refused(argv):
    with pytest.raises(SystemExit):
        kic.main(argv)
