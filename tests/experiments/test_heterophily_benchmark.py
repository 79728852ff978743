"""The heterophily benchmark's bookkeeping: edge-free methods run once per sweep base and
seed, merged files keep the last row of each (data set, method, seed), and shared rows are
not timed twice."""
import json
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import heterophily_benchmark as hb  # noqa: E402


def test_sweep_base_names_the_feature_set():
    assert hb.sweep_base('syn-cora-h0.3') == 'cora'
    assert hb.sweep_base('syn-citeseer-h1-s2') == 'citeseer'
    assert hb.sweep_base('Cora') is None


def test_edge_free_methods_run_once_per_base_and_seed(tmp_path, monkeypatch):
    import genurl_pyg.datasets as datasets
    calls = []

    def fake_run_one(name, method, seed, data, spec):
        calls.append((name, method, seed))
        return {'dataset': spec.name, 'method': method, 'seed': seed, 'test': 0.5,
                'val': 0.5, 'seconds': 1.0}
    monkeypatch.setattr(hb, 'run_one', fake_run_one)
    monkeypatch.setattr(hb, 'graph_stats', lambda data, spec: {})
    monkeypatch.setattr(datasets, 'load_dataset', lambda name: None)
    monkeypatch.setattr(datasets, 'get_spec', lambda name: SimpleNamespace(name=name))
    out = tmp_path / 'r.json'
    args = SimpleNamespace(threads=1, out=str(out), resume=False, skip_from=[], datasets=[],
                           sweep=['cora'], hs=[0.0, 0.5], methods=['genurl', 'raw'], seeds=2)
    hb.run(args)
    assert sorted(calls) == sorted([('syn-cora-h0', 'genurl', 0), ('syn-cora-h0', 'genurl', 1),
                                    ('syn-cora-h0.5', 'genurl', 0),
                                    ('syn-cora-h0.5', 'genurl', 1),
                                    ('syn-cora-h0', 'raw', 0), ('syn-cora-h0', 'raw', 1)])
    rows = json.loads(out.read_text())['rows']
    shared = [r for r in rows if 'shared_from' in r]
    assert len(rows) == 8 and len(shared) == 2
    assert {r['dataset'] for r in shared} == {'syn-cora-h0.5'}
    assert {r['shared_from'] for r in shared} == {'syn-cora-h0'}
    # Resuming with another file to skip runs nothing that either file holds.
    calls.clear()
    args.resume, args.skip_from, args.seeds = True, [str(out)], 2
    hb.run(args)
    assert calls == []


def test_summary_takes_the_last_file_and_times_each_run_once():
    row = {'dataset': 'd', 'method': 'raw', 'seed': 0, 'test': 0.5, 'val': 0.5, 'seconds': 4.0}
    old = {'graphs': {'d': {}}, 'rows': [dict(row, test=0.1)]}
    new = {'graphs': {'d': {}}, 'rows': [row, dict(row, seed=1, test=0.7, seconds=9.0,
                                                   shared_from='e')]}
    cell = hb.summarise([old, new])['table']['d']['raw']
    assert cell['seeds'] == 2 and abs(cell['mean'] - 60.0) < 1e-9
    assert cell['seconds'] == 4.0
