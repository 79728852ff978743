"""The image distillation benchmark's table: misses are named per probe and peer."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import kd_image_benchmark as kib  # noqa: E402


def _row(method, seed, knn, linear):
    return {'dataset': 'fashion-mnist', 'train_images': 5000, 'seed': seed, 'method': method,
            'knn': knn, 'linear': linear, 'seconds': 10.0, 'epochs': 20,
            'inference_test_seconds': 1.5, 'peak_rss_mb': 900}


def _reported(tmp_path, monkeypatch, rows, against):
    """``report`` of ``rows`` (one run file): the run's path, the table's lines, the row
    labels of the 5,000-image table in order, and what was written."""
    run = tmp_path / 'run.json'
    run.write_text(json.dumps({'command': 'x', 'threads': 1, 'overrides': {}, 'rows': rows}))
    written = {}
    monkeypatch.setattr(kib, 'write_results',
                        lambda stem, payload, md: written.update(md=md, p=payload))
    kib.report([str(run)], against=against)
    md = written['md'].splitlines()
    return run, md, [x.split(' | ')[1] for x in md
                     if x.startswith('| fashion-mnist (5,000) |')], written


def test_report_names_the_peers_above_genurl_on_each_probe(tmp_path, monkeypatch):
    rows = []
    for seed in (0, 1):
        rows += [_row('teacher', seed, 0.80, 0.85), _row('raw', seed, 0.75, 0.80),
                 _row('genurl', seed, 0.78, 0.84), _row('mse', seed, 0.70, 0.86),
                 _row('pkt', seed, 0.79, 0.83)]
    run = tmp_path / 'run.json'
    run.write_text(json.dumps({'command': 'x', 'threads': 1, 'overrides': {}, 'rows': rows}))
    written = {}
    monkeypatch.setattr(kib, 'write_results',
                        lambda stem, payload, md: written.update(stem=stem, md=md, p=payload))
    kib.report([str(run)])
    genurl = next(line for line in written['md'].splitlines() if '| genurl |' in line)
    assert '**missed**: knn (pkt higher); linear (mse higher)' in genurl
    assert '| 78.00 ± 0.00 | 84.00 ± 0.00 |' in genurl and '| 2 |' in genurl
    assert written['stem'] == 'kd_image_benchmark'
    assert written['p']['summary']['fashion-mnist/5000']['pkt']['knn'] == pytest.approx(0.79)
    # above both peers on both probes: met
    for r in rows:
        if r['method'] == 'genurl':
            r['knn'], r['linear'] = 0.8, 0.9
    run.write_text(json.dumps({'command': 'x', 'threads': 1, 'overrides': {}, 'rows': rows}))
    kib.report([str(run)])
    assert '≥ every peer met' in written['md']
    # a labelled GenURL row (a variant, or the default under an older table's label) is
    # judged against the same peers, not only the row named `genurl`
    rows.append(_row('genurl (paper)', 0, 0.785, 0.865))
    run.write_text(json.dumps({'command': 'x', 'threads': 1, 'overrides': {}, 'rows': rows}))
    kib.report([str(run)])
    paper = next(line for line in written['md'].splitlines() if '| genurl (paper) |' in line)
    assert paper.endswith('| **missed**: knn (pkt higher) |')
    peer = next(line for line in written['md'].splitlines() if '| mse |' in line)
    assert peer.endswith('|  |')


def test_a_given_teachers_budget_is_read_from_its_run_folder(tmp_path, monkeypatch):
    """A `genurl-pyg ssl` run folder says its pretraining seconds and epochs; a bare
    weights file does not (blank cells, not invented ones); --stem names another table."""
    folder = tmp_path / 'run'
    folder.mkdir()
    (folder / 'result.json').write_text(json.dumps({'seconds': 9952.7, 'epochs': 30}))
    assert kib.given_teacher_budget(str(folder)) == (9952.7, 30)
    assert kib.given_teacher_budget(str(tmp_path / 'w.pt')) == (None, None)
    row = dict(_row('teacher', 0, 0.8, 0.85), seconds=None, epochs=None)
    run = tmp_path / 'r.json'
    run.write_text(json.dumps({'command': 'x', 'threads': 1, 'overrides': {},
                               'rows': [row, _row('genurl', 0, 0.7, 0.8)]}))
    written = {}
    monkeypatch.setattr(kib, 'write_results',
                        lambda stem, payload, md: written.update(stem=stem, md=md))
    kib.report([str(run)], stem='kd_image_benchmark_full_teacher')
    assert written['stem'] == 'kd_image_benchmark_full_teacher'
    teacher = next(line for line in written['md'].splitlines() if '| teacher |' in line)
    assert '| teacher |  | 1 |' in teacher and 'None' not in teacher


def test_validation_rows_get_their_own_table_and_paired_differences(tmp_path, monkeypatch):
    """Rows scored on held-out training images are grouped apart from test rows, never
    judged against the target, and each GenURL variant is paired with `genurl` on the
    seeds both ran (brute-force means and SEs below)."""
    def v(method, seed, knn, linear):
        return dict(_row(method, seed, knn, linear), scored_on='validation 10,000')
    rows = [_row('genurl', 0, 0.70, 0.80), _row('mse', 0, 0.75, 0.85)]  # test: judged
    for seed, (g, i) in enumerate([((0.70, 0.80), (0.72, 0.81)), ((0.71, 0.80), (0.72, 0.83)),
                                   ((0.69, 0.82), (0.73, 0.82))]):
        rows += [v('genurl', seed, *g), v('iw05', seed, *i), v('mse', seed, 0.9, 0.9)]
    rows.append(v('cos1', 7, 0.5, 0.5))  # a seed genurl did not run: nothing to pair
    run = tmp_path / 'run.json'
    run.write_text(json.dumps({'command': 'x', 'threads': 1, 'overrides': {}, 'rows': rows}))
    written = {}
    monkeypatch.setattr(kib, 'write_results',
                        lambda stem, payload, md: written.update(stem=stem, md=md, p=payload))
    kib.report([str(run)], stem='kd_image_validation')
    lines = written['md'].splitlines()
    test_row = next(x for x in lines if x.startswith('| fashion-mnist (5,000) | genurl |'))
    assert '**missed**: knn (mse higher)' in test_row
    val_row = next(x for x in lines
                   if x.startswith('| fashion-mnist (5,000; *validation 10,000*) | genurl |'))
    assert val_row.endswith('|  |') and '| 3 |' in val_row  # not judged; three seeds
    (paired,) = written['p']['paired']
    assert paired['variant'] == 'iw05' and paired['seeds'] == [0, 1, 2]
    knn = [2.0, 1.0, 4.0]  # per seed, in points
    mean, se = sum(knn) / 3, (sum((d - 7 / 3) ** 2 for d in knn) / 2) ** 0.5 / 3 ** 0.5
    assert paired['knn'] == pytest.approx((mean, se))
    lin = [1.0, 3.0, 0.0]
    assert paired['linear'] == pytest.approx(
        (4 / 3, (sum((d - 4 / 3) ** 2 for d in lin) / 2) ** 0.5 / 3 ** 0.5))
    assert paired['against'] == 'genurl'
    assert '| fashion-mnist (5,000; validation 10,000) | iw05 | genurl | 3 | +2.33 ± 0.88 |' \
        in written['md']
    assert 'fashion-mnist/5000/validation 10,000' in written['p']['summary']


def test_validation_is_refused_into_a_test_table(monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', ['kd_image_benchmark.py', '--validation', '100',
                                      '--stem', 'kd_image_benchmark_x', '--out', 'x.json'])
    with pytest.raises(SystemExit):
        kib.main()
    assert 'would be written into the test table' in capsys.readouterr().err
    monkeypatch.setattr(sys, 'argv', ['kd_image_benchmark.py', '--validation', '-5',
                                      '--out', 'x.json'])
    with pytest.raises(SystemExit):
        kib.main()
    assert '--validation must be 0' in capsys.readouterr().err


def test_a_committed_table_is_reported_again_beside_a_new_run(tmp_path, monkeypatch):
    """The table's JSON keeps each command's conditions, so it can be read back as an
    earlier report beside a new run: every row and command kept, in order."""
    first, second = tmp_path / 'a.json', tmp_path / 'b.json'
    first.write_text(json.dumps({'command': 'first', 'threads': 1, 'overrides': {},
                                 'rows': [_row('genurl', 0, 0.7, 0.8)]}))
    second.write_text(json.dumps({'command': 'second', 'threads': 1,
                                  'overrides': {'input_weight': 0},
                                  'rows': [_row('genurl', 1, 0.6, 0.7)]}))
    tables = {}
    monkeypatch.setattr(kib, 'write_results',
                        lambda stem, payload, md: tables.update({stem: (payload, md)}))
    kib.report([str(first)], stem='t1')
    (tmp_path / 't1.json').write_text(json.dumps(tables['t1'][0]))
    kib.report([str(tmp_path / 't1.json'), str(second)], stem='t2')
    payload, md = tables['t2']
    assert payload['commands'] == ['first', 'second']
    assert payload['conditions'] == ['threads 1, student overrides none',
                                     "threads 1, student overrides {'input_weight': 0}"]
    assert [r['seed'] for r in payload['rows']] == [0, 1]
    assert '| genurl | 20 | 2 | 65.00 ± 5.00 |' in md and '| infer (s) |' in md


def test_rows_of_another_student_width_are_their_own_rows(tmp_path, monkeypatch):
    """Runs of two student widths reported together: a width-32 row is never merged with
    the width-16 row of the same method and seed, is judged only against peers of its
    own width, and is paired (``against``) only with rows of its width; the teacher and
    pixel rows have no width. Rows written before the width was recorded are width 16."""
    def r(method, seed, knn, linear, width=None):
        row = _row(method, seed, knn, linear)
        if width is not None:
            row['student_width'] = width
        return row
    rows = []
    for seed, d in ((0, 0.0), (1, 0.01), (2, 0.03)):
        rows += [r('teacher', seed, 0.8, 0.85), r('raw', seed, 0.75, 0.82),
                 r('block', seed, 0.70 + d, 0.80),  # an older row: no width, so 16
                 r('cosine', seed, 0.71, 0.81 + d, 16), r('mse', seed, 0.69, 0.80, 16),
                 r('block', seed, 0.74 + d, 0.84 + d, 32), r('cosine', seed, 0.72, 0.83, 32),
                 r('mse', seed, 0.90, 0.70, 32)]
    run = tmp_path / 'run.json'
    run.write_text(json.dumps({'command': 'x', 'threads': 1, 'overrides': {}, 'rows': rows}))
    written = {}
    monkeypatch.setattr(kib, 'write_results',
                        lambda stem, payload, md: written.update(md=md, p=payload))
    kib.report([str(run)], against=('cosine', 'mse'))
    md = written['md'].splitlines()
    labels = [x.split(' | ')[1] for x in md if x.startswith('| fashion-mnist (5,000) |')]
    assert labels == ['teacher', 'raw', 'block', 'mse', 'cosine', 'block (width 32)',
                      'mse (width 32)', 'cosine (width 32)']  # the peers in PEERS' order
    wide = next(x for x in md if '| block (width 32) |' in x)
    # width 32: above cosine 32 on both probes, below mse 32 on kNN only; the width-16
    # peers (lower) are not its peers
    assert wide.endswith('| **missed**: knn (mse (width 32) higher) |')
    assert '| 3 | 75.33 ± 1.25 |' in wide
    narrow = next(x for x in md if x.startswith('| fashion-mnist (5,000) | block |'))
    assert narrow.endswith('| **missed**: linear (cosine higher) |')  # 71.33 kNN > 71
    got = {(e['variant'], e['against']): e for e in written['p']['paired']}
    assert set(got) == {('block', 'cosine'), ('block', 'mse'),
                        ('block (width 32)', 'cosine (width 32)'),
                        ('block (width 32)', 'mse (width 32)')}
    e = got[('block (width 32)', 'cosine (width 32)')]
    knn = [2.0, 3.0, 5.0]  # 74 - 72, 75 - 72, 77 - 72 points
    assert e['knn'] == pytest.approx(
        (10 / 3, (sum((x - 10 / 3) ** 2 for x in knn) / 2) ** 0.5 / 3 ** 0.5))
    assert e['seeds'] == [0, 1, 2]
    lin = [-1.0, -2.0, -4.0]  # 80 - 81, 80 - 82, 80 - 84 points
    assert got[('block', 'cosine')]['linear'] == pytest.approx(
        (-7 / 3, (sum((x + 7 / 3) ** 2 for x in lin) / 2) ** 0.5 / 3 ** 0.5))
    assert written['p']['summary']['fashion-mnist/5000']['mse (width 32)']['knn'] == \
        pytest.approx(0.90)
    assert kib.row_label(r('teacher', 0, 0, 0)) == 'teacher'
    assert kib.row_label(r('mse', 0, 0, 0, 16)) == 'mse'


def test_rows_with_view_overrides_are_their_own_rows(tmp_path, monkeypatch):
    """Students trained on other views (``--view``) are another setting: labelled with
    their overrides, paired only with the peers trained on the same views."""
    light = {'crop_scale': [0.5, 1.0]}
    rows = []
    for seed, d in ((0, 0.0), (1, 0.02)):
        rows += [_row('teacher', seed, 0.8, 0.85), _row('block', seed, 0.70, 0.80),
                 _row('cosine', seed, 0.71, 0.81),
                 dict(_row('block', seed, 0.74 + d, 0.86), student_views=light),
                 dict(_row('cosine', seed, 0.73, 0.83), student_views=light),
                 dict(_row('cosine', seed, 0.60, 0.60), student_width=32, student_views=light)]
    run, md, labels, written = _reported(tmp_path, monkeypatch, rows, ('cosine',))
    views = 'views crop_scale=[0.5, 1.0]'
    assert labels == ['teacher', 'block', 'cosine', f'block ({views})', f'cosine ({views})',
                      f'cosine (width 32; {views})']
    got = {(e['variant'], e['against']): e for e in written['p']['paired']}
    assert set(got) == {('block', 'cosine'), (f'block ({views})', f'cosine ({views})')}
    assert got[(f'block ({views})', f'cosine ({views})')]['knn'] == pytest.approx((2.0, 1.0))
    assert next(x for x in md if f'| block ({views}) |' in x).endswith('| ≥ every peer met |')
    with pytest.raises(SystemExit, match="--against seed: no rows of that method"):
        kib.report([str(run)], against=('cosine', 'seed'))  # asked for by name: refused


@pytest.mark.parametrize('flag, value, message', [
    ('--width', '0', '--width must be a positive integer, got 0'),
    ('--view', 'crop_scale=[0,1]', "--view: views 'crop_scale' must be (low, high)"),
    ('--view', 'blur=1', "--view: unknown view option(s) 'blur'"),
    ('--view', 'crop_scale', "--view expects KEY=VALUE, got 'crop_scale'"),
    ('--set', 'epochs', "--set expects KEY=VALUE, got 'epochs'"),
])
def test_a_bad_student_setting_is_refused_before_training(flag, value, message, monkeypatch,
                                                           capsys):
    monkeypatch.setattr(sys, 'argv', ['kd_image_benchmark.py', flag, value, '--out', 'x.json'])
    with pytest.raises(SystemExit):
        kib.main()
    assert message in capsys.readouterr().err


def test_rows_whose_teacher_saw_the_views_are_their_own_rows(tmp_path, monkeypatch, capsys):
    """``--teacher-views`` rows (the teacher read each step's view) are another setting:
    labelled ``(teacher views)``, paired only with peers whose teacher saw the views too."""
    rows = []
    for seed, d in ((0, 0.0), (1, 0.02)):
        rows += [_row('teacher', seed, 0.8, 0.85), _row('block', seed, 0.70, 0.80),
                 _row('cosine', seed, 0.71, 0.81),
                 dict(_row('block', seed, 0.75 + d, 0.82), teacher_views=True),
                 dict(_row('cosine', seed, 0.72, 0.83), teacher_views=True)]
    run, md, labels, written = _reported(tmp_path, monkeypatch, rows, ('cosine',))
    assert labels == ['teacher', 'block', 'cosine', 'block (teacher views)',
                      'cosine (teacher views)']
    got = {(e['variant'], e['against']): e for e in written['p']['paired']}
    assert set(got) == {('block', 'cosine'), ('block (teacher views)', 'cosine (teacher views)')}
    assert got[('block (teacher views)', 'cosine (teacher views)')]['knn'] == \
        pytest.approx((4.0, 1.0))
    assert got[('block (teacher views)', 'cosine (teacher views)')]['linear'] == \
        pytest.approx((-1.0, 0.0))
    monkeypatch.setattr(sys, 'argv', ['kd_image_benchmark.py', '--teacher-views', '--out',
                                      'x.json'])  # the default methods hold no-teacher
    with pytest.raises(SystemExit):
        kib.main()
    assert "'no-teacher' has no teacher to show the views to" in capsys.readouterr().err


def test_students_of_other_epochs_are_their_own_rows_outside_the_target(tmp_path,
                                                                        monkeypatch):
    """The target compares students at equal epochs: a peer trained for 40 epochs is its
    own labelled row, neither a miss of the 20-epoch GenURL student nor paired with it."""
    rows = []
    for seed in (0, 1):
        rows += [_row('teacher', seed, 0.8, 0.85), _row('genurl', seed, 0.78, 0.84),
                 _row('cosine', seed, 0.70, 0.80),
                 dict(_row('cosine', seed, 0.85, 0.90), epochs=40)]
    _, md, labels, written = _reported(tmp_path, monkeypatch, rows, None)
    assert labels == ['teacher', 'genurl', 'cosine', 'cosine (40 epochs)']
    genurl = next(x for x in md if x.startswith('| fashion-mnist (5,000) | genurl |'))
    assert '≥ every peer met' in genurl and '| 20 |' in genurl
    assert next(x for x in md if '| cosine (40 epochs) |' in x).split(' | ')[2] == '40'
    assert kib.row_label(dict(_row('genurl', 0, 0, 0), epochs=10)) == 'genurl (10 epochs)'
    assert kib.row_label(_row('mse', 0, 0, 0)) == 'mse'


def test_at_equal_passes_a_two_view_student_meets_the_peers_of_twice_its_epochs(
        tmp_path, monkeypatch):
    """``budget='passes'``: a student that encodes two views of each image per step, run
    for 10 epochs, has read as many views as a one-view peer's 20 epochs: it is judged
    and paired against that peer (not against the 10-epoch one), and its 20-epoch rows
    sit with the 40-epoch peers. At equal epochs the same rows group by epochs."""
    pairs = {'views_per_step': 2}
    rows = []
    for seed in (0, 1):
        rows += [_row('teacher', seed, 0.8, 0.85),
                 dict(_row('genurl', seed, 0.76 + seed / 100, 0.82), epochs=10, **pairs),
                 dict(_row('genurl', seed, 0.80, 0.86), **pairs),
                 _row('cosine', seed, 0.75, 0.83),
                 dict(_row('cosine', seed, 0.81 + seed / 100, 0.85), epochs=40),
                 dict(_row('cosine', seed, 0.70, 0.70), epochs=10)]
    run = tmp_path / 'run.json'
    run.write_text(json.dumps({'command': 'x', 'threads': 1, 'overrides': {}, 'rows': rows}))
    written = {}
    monkeypatch.setattr(kib, 'write_results',
                        lambda stem, payload, md: written.update(md=md, p=payload))
    kib.report([str(run)], budget='passes')
    md = written['md'].splitlines()
    table = {x.split(' | ')[1]: x for x in md if x.startswith('| fashion-mnist (5,000) |')}
    assert set(table) == {'teacher', 'genurl', 'genurl (40 passes)', 'cosine',
                          'cosine (40 passes)', 'cosine (10 passes)'}
    # 10 epochs x 2 views, judged against the 20-epoch cosine peer (kNN 75, linear 83),
    # not the 10-epoch one (70, 70): above it on kNN, below on linear
    assert table['genurl'].endswith('| **missed**: linear (cosine higher) |')
    assert table['genurl'].split(' | ')[2:4] == ['10', '20']  # epochs, passes
    # 20 epochs x 2 views against the 40-epoch peer: below it on kNN (81.5 > 80)
    assert 'knn (cosine (40 passes) higher)' in table['genurl (40 passes)']
    assert written['p']['paired'] == []  # each setting holds one GenURL row: nothing to pair
    monkeypatch.setattr(kib, 'write_results',
                        lambda stem, payload, md: written.update(md=md, p=payload))
    kib.report([str(run)], against=['cosine'], budget='passes')
    paired = {(r['variant'], r['against']): r for r in written['p']['paired']}
    assert set(paired) == {('genurl', 'cosine'), ('genurl (40 passes)', 'cosine (40 passes)')}
    assert paired[('genurl', 'cosine')]['knn'][0] == pytest.approx(1.5)  # (76,77) - 75
    assert paired[('genurl (40 passes)', 'cosine (40 passes)')]['knn'][0] == \
        pytest.approx(-1.5)
    # the same rows at equal epochs: the 10-epoch pairs student meets the 10-epoch peer
    kib.report([str(run)], against=['cosine'])
    labels = [x.split(' | ')[1] for x in written['md'].splitlines()
              if x.startswith('| fashion-mnist (5,000) |')]
    assert 'genurl (10 epochs)' in labels and 'cosine (10 epochs)' in labels
    paired = {(r['variant'], r['against']) for r in written['p']['paired']}
    assert ('genurl (10 epochs)', 'cosine (10 epochs)') in paired
    assert ('genurl', 'cosine') in paired
    with pytest.raises(ValueError, match="budget must be one of"):
        kib.report([str(run)], budget='steps')


def test_views_per_step_follows_the_pairs_setting():
    assert kib.views_per_step({}) == 1
    assert kib.views_per_step({'view_pair_weight': 0.0}) == 1
    assert kib.views_per_step({'view_pair_weight': 0.5, 'pairs': 'block'}) == 2
    assert kib.row_label(dict(_row('genurl', 0, 0, 0), epochs=10, views_per_step=2),
                         'passes') == 'genurl'
    assert kib.row_label(dict(_row('genurl', 0, 0, 0), views_per_step=2),
                         'passes') == 'genurl (40 passes)'


def test_peak_memory_is_shown_for_rows_that_read_their_own_phases_peak(tmp_path,
                                                                       monkeypatch):
    rows = [dict(_row('genurl', 0, 0.78, 0.84), peak_rss_mb=1200.4, peak_scope='phase'),
            dict(_row('genurl', 1, 0.78, 0.84), peak_rss_mb=1400.4, peak_scope='phase'),
            _row('mse', 0, 0.70, 0.86)]  # an older row: the process's peak since its start
    _, md, _, _ = _reported(tmp_path, monkeypatch, rows, against=[])
    header = next(x for x in md if x.startswith('| data set'))
    col = [c.strip() for c in header.split('|')].index('peak MB')
    cells = {c[2]: c for c in ([x.strip() for x in line.split('|')] for line in md
                               if line.startswith('| fashion-mnist (5,000) |'))}
    assert cells['genurl'][col] == '1300' and cells['mse'][col] == ''
