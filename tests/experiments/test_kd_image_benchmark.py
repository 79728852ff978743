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
