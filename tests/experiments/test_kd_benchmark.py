"""The distillation benchmark's table: target marks come from the rows, misses are named."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import kd_benchmark as kb  # noqa: E402


def _row(setting, method, seed, acc):
    return {'dataset': 'Cora', 'setting': setting, 'seed': seed, 'method': method,
            'val_accuracy': acc, 'accuracy': acc, 'seconds': 1.0, 'inference_seconds': 0.01,
            'inference_10k_seconds': None, 'peak_rss_mb': 100}


def _run_file(tmp_path, rows):
    """One run's state file holding ``rows``."""
    run = tmp_path / 'run.json'
    run.write_text(json.dumps({'command': 'x', 'threads': 1, 'overrides': {}, 'rows': rows}))
    return run


def _reported(tmp_path, monkeypatch, rows, **kwargs):
    """What ``report`` of one run holding ``rows`` writes: ``{'md', 'p'}`` (the Markdown
    and the JSON payload), refreshed by every later ``report`` call in the test."""
    written = {}
    monkeypatch.setattr(kb, 'write_results',
                        lambda stem, payload, md: written.update(md=md, p=payload))
    run = _run_file(tmp_path, rows)
    kb.report([str(run)], **kwargs)
    written['run'] = run
    return written


def test_report_marks_missed_targets_and_names_the_better_peer(tmp_path, monkeypatch):
    rows = []
    for seed in (0, 1):
        rows += [_row('transductive', 'teacher', seed, 0.82), _row('transductive', 'genurl',
                                                                   seed, 0.80),
                 _row('transductive', 'mse', seed, 0.81), _row('transductive', 'pkt', seed, 0.7),
                 _row('inductive', 'teacher', seed, 0.80), _row('inductive', 'genurl', seed,
                                                                0.79),
                 _row('inductive', 'mse', seed, 0.75)]
    written = _reported(tmp_path, monkeypatch, rows)
    lines = {tuple(c.strip() for c in line.split('|')[1:4]): line
             for line in written['md'].splitlines() if line.startswith('| Cora')}
    assert '≥ every peer missed (mse higher)' in lines[('Cora', 'transductive', 'genurl')]
    ind = lines[('Cora', 'inductive', 'genurl')]
    assert '≥ every peer met' in ind and 'within 1.5 of teacher met (+1.00)' in ind
    assert written['p']['summary']['Cora/transductive']['mse']['mean'] == 0.81


def test_a_new_run_is_reported_beside_an_earlier_table(tmp_path, monkeypatch):
    """An earlier report's JSON (every command and condition kept) is read with a new run's
    state; the new run's rows replace the earlier ones of the same cell, the rest stay, and
    the written JSON keeps one condition per command so it can be read again."""
    written = {}
    monkeypatch.setattr(kb, 'write_results',
                        lambda stem, payload, md: written.update(stem=stem, md=md, p=payload))
    earlier = tmp_path / 'earlier.json'
    earlier.write_text(json.dumps({
        'rows': [_row('inductive', 'teacher', 0, 0.80), _row('inductive', 'genurl', 0, 0.60),
                 _row('inductive', 'pkt', 0, 0.70)],
        'commands': ['old a', 'old b'], 'conditions': ['threads 1, a', 'threads 1, b']}))
    new = tmp_path / 'new.json'
    new.write_text(json.dumps({'command': 'new', 'threads': 1, 'overrides': {},
                               'rows': [_row('inductive', 'genurl', 0, 0.75)]}))
    kb.report([str(earlier), str(new)])
    summary = written['p']['summary']['Cora/inductive']
    assert summary['genurl']['mean'] == 0.75 and summary['pkt']['mean'] == 0.70
    assert written['p']['commands'] == ['old a', 'old b', 'new']
    assert len(written['p']['conditions']) == 3
    assert '`old a`; `old b`; `new`' in written['md']
    again = tmp_path / 'again.json'
    again.write_text(json.dumps(written['p']))
    kb.report([str(again)])  # the written table is itself an earlier report
    assert written['p']['commands'] == ['old a', 'old b', 'new']
    broken = tmp_path / 'broken.json'
    broken.write_text(json.dumps({'rows': [], 'commands': ['x']}))
    with pytest.raises(SystemExit, match='one condition per command'):
        kb.report([str(broken)])


def test_paired_differences_are_per_seed_against_the_teacher_and_each_peer(tmp_path,
                                                                           monkeypatch):
    """GenURL's difference per shared seed, mean and SE by hand; a seed only one side ran
    is left out; without --paired the section is absent."""
    accs = {'genurl': [0.70, 0.74, 0.72], 'pkt': [0.71, 0.72, 0.70], 'teacher': [0.80, 0.82,
                                                                                0.81]}
    rows = [_row('inductive', m, seed, a) for m, vals in accs.items()
            for seed, a in enumerate(vals)]
    rows.append(_row('inductive', 'mse', 5, 0.60))  # no genurl row on seed 5: no pair
    written = _reported(tmp_path, monkeypatch, rows, paired=True)
    got = {e['against']: e for e in written['p']['summary']['paired']}
    assert set(got) == {'teacher', 'pkt'}
    diff = [-1.0, 2.0, 2.0]  # genurl - pkt, points
    mean = sum(diff) / 3
    se = (sum((d - mean) ** 2 for d in diff) / 2) ** 0.5 / 3 ** 0.5
    assert got['pkt']['mean'] == pytest.approx(mean) and got['pkt']['se'] == pytest.approx(se)
    assert got['teacher']['mean'] == pytest.approx(-9.0) and got['pkt']['seeds'] == [0, 1, 2]
    assert f'| Cora | inductive | pkt | 3 | {mean:+.2f} ± {se:.2f} |' in written['md']
    kb.report([str(written['run'])])
    assert 'paired' not in written['p']['summary'] and 'genurl −' not in written['md']


def test_row_names_of_a_label_and_of_a_suffix():
    assert kb.row_name('genurl') == 'genurl' and kb.row_name('pkt', 'g+a') == 'pkt'
    assert kb.row_name('genurl', 'g+a') == 'g+a'
    assert [kb.row_name(m, suffix='+bank20') for m in ('genurl', 'pkt')] == [
        'genurl+bank20', 'pkt+bank20']


def test_the_graphs_shipped_file_reaches_the_genurl_rows_only():
    """Computers' file sets GenURL-only keys (input_weight): the peers and the no-teacher
    student get the package defaults, so a peer's config is valid and unchanged."""
    from genurl_pyg.distill import DistillConfig, distill_defaults
    shipped = distill_defaults('Computers')
    assert shipped.input_weight > 0  # the premise: the file sets a GenURL-only key
    genurl = kb.student_config('Computers', 'genurl', 3, {})
    assert genurl.input_weight == shipped.input_weight and genurl.seed == 3
    assert genurl.anchor_weight == shipped.anchor_weight
    for method in ('mse', 'cosine', 'pkt', 'seed'):
        cfg = kb.student_config('Computers', method, 3, {})
        assert cfg.objective == method and cfg.input_weight == 'auto'  # the default
        assert cfg.resolved(images=False).input_weight == 0.0  # which a peer reads as 0
        assert cfg.anchor_weight == DistillConfig().anchor_weight
    plain = kb.student_config('Computers', 'no-teacher', 3, {'epochs': 7})
    assert plain.objective == 'genurl' and plain.epochs == 7
    assert plain.resolved(images=False).input_weight == 0.0  # the features' P alone


def test_the_glnn_reference_is_shown_after_the_peers_outside_the_target(tmp_path, monkeypatch):
    """The labelled reference rows follow the peers and never enter '>= every peer'; a run's
    own table goes beside its rows, not over the committed one."""
    rows = [_row('inductive', 'teacher', 0, 0.80), _row('inductive', 'genurl', 0, 0.70),
            _row('inductive', 'mse', 0, 0.65), _row('inductive', 'glnn', 0, 0.75),
            _row('inductive', 'glnn (head)', 0, 0.76)]
    run = _run_file(tmp_path, rows)
    monkeypatch.setattr(kb, 'write_results', lambda *a: pytest.fail('the committed table'))
    kb.report([str(run)], table=tmp_path / 'run.md')
    md = (tmp_path / 'run.md').read_text()
    methods = [line.split('|')[3].strip() for line in md.splitlines()
               if line.startswith('| Cora')]
    assert methods == ['teacher', 'genurl', 'mse', 'glnn', 'glnn (head)']
    genurl = next(line for line in md.splitlines() if '| genurl |' in line)
    assert '≥ every peer met' in genurl  # glnn's 75 is above genurl's 70 but not a peer



def test_inference_is_the_median_of_repeated_calls_for_teacher_and_students(monkeypatch):
    """One call right after training read the process's state (5.8 s for a student that
    embeds Physics in 0.7 s): the teacher's full-graph pass and each student's passes
    over every node and over the 10k new rows are timed by ``median_seconds``."""
    import torch
    calls = []

    def fake_median(fn, repeats):
        out = fn()
        calls.append((repeats, tuple(out.shape)))
        return 0.125
    monkeypatch.setattr(kb, 'median_seconds', fake_median)
    rows = []
    torch.manual_seed(0)
    kb.run_seed('KarateClub', 'transductive', 0, ['mse'], {'batch_size': 16, 'epochs': 2},
                {}, lambda key, m, val, acc, secs, infer, infer_new, phase_peak:
                rows.append((m, infer, infer_new)))
    assert rows == [('teacher', 0.125, None), ('raw', None, None), ('mse', 0.125, 0.125)]
    assert [r for r, _ in calls] == [kb.INFER_REPEATS] * 3
    assert [shape[0] for _, shape in calls] == [34, 34, 10_000]  # graph, nodes, new rows


def test_each_row_reads_its_own_phases_peak_and_the_table_shows_only_those(tmp_path,
                                                                           monkeypatch):
    """The peak is reset when the teacher's and each student's phase begins, so a row does
    not inherit an earlier phase's peak; rows recorded without a reset show no peak."""
    resets, seen = [], []
    monkeypatch.setattr(kb, 'reset_peak_rss', lambda: resets.append(1) or True)
    kb.run_seed('KarateClub', 'transductive', 0, ['mse', 'cosine'],
                {'batch_size': 16, 'epochs': 2}, {},
                lambda key, m, val, acc, secs, infer, infer_new, phase_peak:
                seen.append((m, phase_peak)))
    assert seen == [('teacher', True), ('raw', None), ('mse', True), ('cosine', True)]
    assert len(resets) == 3
    rows = [dict(_row('transductive', 'genurl', 0, 0.8), peak_rss_mb=300.4,
                 peak_scope='phase'),
            dict(_row('transductive', 'genurl', 1, 0.8), peak_rss_mb=500.4,
                 peak_scope='phase'),
            _row('transductive', 'mse', 0, 0.7)]  # an older row: the process's peak
    md = _reported(tmp_path, monkeypatch, rows)['md']
    cells = {line.split('|')[3].strip(): [c.strip() for c in line.split('|')]
             for line in md.splitlines() if line.startswith('| Cora')}
    header = next(line for line in md.splitlines() if line.startswith('| data set'))
    col = [c.strip() for c in header.split('|')].index('peak MB')
    assert cells['genurl'][col] == '400' and cells['mse'][col] == ''
