"""experiments/kd_inductive_variants.py on KarateClub (two epochs): one row per seed and
variant, scored on held-out validation nodes only; the paired summary equals a by-hand
mean and standard error; --merge joins disjoint seeds of one comparison and refuses
anything else by name; --setting transductive trains on every node and still scores only
the held-out validation nodes."""
import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import kd_inductive_variants as kiv  # noqa: E402


def test_smoke_rows_never_probe_test_nodes(monkeypatch, probed_test_masks):
    written = {}
    monkeypatch.setattr(kiv, 'write_results', lambda stem, payload, md: written.update(
        stem=stem, payload=json.loads(json.dumps(payload)), md=md))
    probed = probed_test_masks
    kiv.main(['--dataset', 'KarateClub', '--seeds', '0', '1', '--variant', 'genurl=',
              '--variant', 'block=pairs=block,k=3', '--smoke', '--out', 'kiv_test'])
    records = written['payload']['records']
    assert [r['seed'] for r in records] == [0, 1]
    for r in records:
        assert set(r['rows']) == {'genurl', 'block'}
        assert all(0.0 <= x['held_val_acc'] <= 1.0 for x in r['rows'].values())
    assert '| block |' in written['md'] and 'vs genurl' in written['md']
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.evaluation import split_for
    data = load_dataset('KarateClub')
    for seed in (0, 1):
        _, _, test = split_for(data, get_spec('KarateClub').protocol, seed)
        assert not any((m & test).any() for m in probed[seed * 3:(seed + 1) * 3])


def _record(seed, a, b):
    return {'seed': seed, 'teacher_s': 1.0, 'held_val_nodes': 10, 'teacher_held_val_acc': 0.8,
            'rows': {'a': {'held_val_acc': a, 'seconds': 1.0},
                     'b': {'held_val_acc': b, 'seconds': 2.0}}}


def test_summary_is_the_paired_mean_and_its_standard_error():
    recs = [_record(0, 0.60, 0.65), _record(1, 0.62, 0.61), _record(2, 0.58, 0.66)]
    s = kiv.summary(recs, ['a', 'b'])
    d = [5.0, -1.0, 8.0]
    mean = sum(d) / 3
    se = math.sqrt(sum((x - mean) ** 2 for x in d) / 2 / 3)
    assert s['b']['diff'] == pytest.approx(mean) and s['b']['diff_se'] == pytest.approx(se)
    assert s['a']['diff'] == 0.0 and s['b']['mean'] == pytest.approx(64.0)


def test_merge_joins_disjoint_seeds_and_refuses_the_rest(tmp_path, monkeypatch):
    def save(name, seeds, variants=(('a', {}), ('b', {'k': 3})), dataset='Cora'):
        path = tmp_path / f'{name}.json'
        path.write_text(json.dumps({'dataset': dataset, 'variants': variants,
                                    'commands': [name], 'conditions': [''],
                                    'records': [_record(s, 0.6, 0.7) for s in seeds]}))
        return str(path)
    merged = kiv.merge([save('x', [3, 4]), save('y', [0])])
    assert [r['seed'] for r in merged['records']] == [0, 3, 4]
    assert merged['commands'] == ['x', 'y']
    with pytest.raises(ValueError, match='share seeds'):
        kiv.merge([save('x', [3, 4]), save('z', [4])])
    with pytest.raises(ValueError, match='other variants'):
        kiv.merge([save('x', [3]), save('w', [5], variants=(('a', {}),))])
    monkeypatch.setattr(kiv, 'write_results', lambda *a: None)
    with pytest.raises(SystemExit):  # one line, not a traceback
        kiv.main(['--merge', save('x', [3]), str(tmp_path / 'absent.json'), '--out', 'm'])


def test_beside_pairs_runs_of_different_code_over_the_same_seeds(tmp_path, monkeypatch):
    def save(name, seeds, accs, dataset='Cora', teacher=0.8):
        path = tmp_path / f'{name}.json'
        recs = [{**_record(s, a, a), 'teacher_held_val_acc': teacher}
                for s, a in zip(seeds, accs)]
        for r in recs:
            del r['rows']['b']
        path.write_text(json.dumps({'dataset': dataset, 'variants': [('a', {})],
                                    'commands': [name], 'conditions': [''],
                                    'records': recs}))
        return str(path)
    old, new = save('old', [0, 1, 2], [0.60, 0.62, 0.58]), save('new', [0, 1, 2],
                                                                 [0.65, 0.61, 0.66], teacher=0.81)
    joined = kiv.beside([f'before={old}', f'after={new}'])
    assert kiv.row_names(joined) == ['before/a', 'after/a']
    s = kiv.summary(joined['records'], kiv.row_names(joined))
    d = [5.0, -1.0, 8.0]  # paired seed by seed, as within one run
    assert s['after/a']['diff'] == pytest.approx(sum(d) / 3)
    assert s['after/a']['diff_se'] == pytest.approx(
        math.sqrt(sum((x - sum(d) / 3) ** 2 for x in d) / 2 / 3))
    assert joined['commands'] == ['old', 'new']
    assert 'largest teacher difference between them 1.00 points' in joined['conditions'][-1]
    assert '| after/a | 64.00 | +4.00 ± 2.65 |' in kiv.markdown(joined)
    with pytest.raises(ValueError, match='same seeds'):
        kiv.beside([f'before={old}', f"after={save('x', [0, 1], [0.6, 0.6])}"])
    with pytest.raises(ValueError, match="data set 'CiteSeer'"):
        kiv.beside([f'before={old}', f"after={save('y', [0, 1, 2], [.6] * 3, 'CiteSeer')}"])
    with pytest.raises(ValueError, match='distinct names'):
        kiv.beside([f'x={old}', f'x={new}'])
    with pytest.raises(ValueError, match='NAME=JSON'):
        kiv.beside([old, f'x={new}'])
    monkeypatch.setattr(kiv, 'write_results', lambda *a: None)
    with pytest.raises(SystemExit):  # one line, not a traceback
        kiv.main(['--beside', f'a={old}', f"b={tmp_path / 'absent.json'}", '--out', 'm'])


def test_variant_syntax_errors_are_named():
    with pytest.raises(ValueError, match='NAME=K=V'):
        kiv.parse_named('nameless')
    assert kiv.parse_named('base=') == ('base', {})
    assert kiv.parse_named('b=pairs=block,k=3') == ('b', {'pairs': 'block', 'k': 3})
    with pytest.raises(ValueError, match='at least one --variant'):
        kiv.parse_variants([])
    with pytest.raises(ValueError, match='names must be distinct'):
        kiv.parse_variants(['a=', 'a=k=3'])


def test_concat_row_probes_the_two_students_side_by_side(monkeypatch):
    import genurl_pyg.evaluation as ev
    written, widths = {}, []
    monkeypatch.setattr(kiv, 'write_results', lambda stem, payload, md: written.update(
        payload=json.loads(json.dumps(payload)), md=md))
    real = ev.linear_probe
    monkeypatch.setattr(ev, 'linear_probe',
                        lambda h, *a, **k: widths.append(h.size(1)) or real(h, *a, **k))
    kiv.main(['--dataset', 'KarateClub', '--seeds', '0', '--variant', 'a=out_channels=8',
              '--variant', 'b=out_channels=4', '--concat', 'ab=a+b', '--smoke', '--out', 'k'])
    rows = written['payload']['records'][0]['rows']
    assert set(rows) == {'a', 'b', 'ab'}
    assert rows['ab']['seconds'] == pytest.approx(rows['a']['seconds'] + rows['b']['seconds'])
    assert widths[-3:] == [8, 4, 12]  # a, b, then both side by side
    assert '| ab |' in written['md'] and 'a and b side by side' in written['md']


def test_concat_syntax_errors_are_named():
    variants = [('a', {}), ('b', {'k': 3})]
    assert kiv.parse_concats(['ab=a+b'], variants) == [('ab', ['a', 'b'])]
    for bad, match in (('ab=a', 'two or more'), ('ab', 'two or more'), ('=a+b', 'two or more'),
                       ('ab=a+c', 'not among'), ('a=a+b', 'must differ')):
        with pytest.raises(ValueError, match=match):
            kiv.parse_concats([bad], variants)


def test_the_probe_reads_the_data_sets_metric(monkeypatch):
    """A ROC-AUC graph (Minesweeper, Tolokers) is scored by ROC-AUC, not by accuracy, which
    reads the majority share there; the table says which."""
    import genurl_pyg.datasets as datasets
    import genurl_pyg.evaluation as ev
    written, metrics = {}, []
    real_spec = datasets.get_spec

    class Spec:
        protocol = real_spec('KarateClub').protocol
        metric = 'roc_auc'
    monkeypatch.setattr(datasets, 'get_spec', lambda name: Spec)
    monkeypatch.setattr(ev, 'linear_probe', lambda *a, metric='accuracy', **k: metrics.append(
        metric) or type('R', (), {'test_accuracy': 0.5})())
    monkeypatch.setattr(kiv, 'write_results', lambda stem, payload, md: written.update(
        payload=json.loads(json.dumps(payload)), md=md))
    kiv.main(['--dataset', 'KarateClub', '--seeds', '0', '--variant', 'a=', '--smoke',
              '--out', 'k'])
    assert metrics and set(metrics) == {'roc_auc'}
    assert written['payload']['records'][0]['metric'] == 'roc_auc'
    assert 'held-out val ROC-AUC' in written['md']


def test_transductive_setting_trains_on_every_node_and_scores_held_out_validation(
        monkeypatch, probed_test_masks):
    import genurl_pyg.distill.graph as graph
    import genurl_pyg.distill.run as run
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.distill.graph import held_out_validation
    from genurl_pyg.evaluation import split_for
    teacher_held, student_rows, written = [], [], {}
    real_teacher, real_distill = run.train_teacher, graph.distill_node_embeddings
    monkeypatch.setattr(run, 'train_teacher', lambda data, name, seed, held, over=None: (
        teacher_held.append(held) or real_teacher(data, name, seed, held, over)))
    monkeypatch.setattr(graph, 'distill_node_embeddings', lambda sub, t, **kw: (
        student_rows.append(sub.num_nodes) or real_distill(sub, t, **kw)))
    monkeypatch.setattr(kiv, 'write_results', lambda stem, payload, md: written.update(
        payload=json.loads(json.dumps(payload)), md=md))
    kiv.main(['--dataset', 'KarateClub', '--seeds', '0', '--setting', 'transductive',
              '--variant', 'genurl=', '--smoke', '--out', 'kiv_tr'])
    data = load_dataset('KarateClub')
    assert teacher_held == [None] and student_rows == [data.num_nodes]
    _, va, te = split_for(data, get_spec('KarateClub').protocol, 0)
    _, held_va, _ = held_out_validation(va, te, 0)
    # teacher and student scored on the held-out validation nodes, never a test node
    assert [bool((m == held_va).all()) for m in probed_test_masks] == [True, True]
    assert written['payload']['setting'] == 'transductive'
    assert written['md'].startswith('# Transductive distillation variants on KarateClub')
    assert 'trained on every node' in written['md']
    monkeypatch.setattr(kiv, 'write_results', lambda stem, payload, md: written.update(
        ind=json.loads(json.dumps(payload))))
    kiv.main(['--dataset', 'KarateClub', '--seeds', '0', '--variant', 'genurl=', '--smoke',
              '--out', 'kiv_ind'])
    assert teacher_held[-1] is not None and student_rows[-1] < data.num_nodes
    assert written['ind']['setting'] == 'inductive'


def test_runs_of_the_two_settings_are_never_joined(tmp_path):
    def save(name, seeds, setting):
        path = tmp_path / f'{name}.json'
        path.write_text(json.dumps({'dataset': 'Cora', 'setting': setting,
                                    'variants': [('a', {}), ('b', {'k': 3})],
                                    'commands': [name], 'conditions': [''],
                                    'records': [_record(s, 0.6, 0.7) for s in seeds]}))
        return str(path)
    with pytest.raises(ValueError, match='setting'):
        kiv.merge([save('i', [0], 'inductive'), save('t', [1], 'transductive')])
    with pytest.raises(ValueError, match="setting 'transductive', not 'inductive'"):
        kiv.beside([f"i={save('i', [0], 'inductive')}", f"t={save('t', [0], 'transductive')}"])
    # files written before the option read as inductive
    old = json.loads(Path(save('o', [2], 'inductive')).read_text())
    del old['setting']
    (tmp_path / 'o.json').write_text(json.dumps(old))
    assert len(kiv.merge([str(tmp_path / 'o.json'), save('i', [0], 'inductive')])['records']) == 2
    with pytest.raises(ValueError):
        kiv.run_seed('KarateClub', 0, [('a', {})], True, (), 'semi')
