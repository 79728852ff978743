"""The smoke suite end to end through the CLI: every task's cells run in their own
processes, and the run folder holds a valid results.json, a Markdown and a self-contained
HTML report with figures; resuming a finished run runs nothing. The run is the
session fixture ``smoke_run`` (``conftest.py``), shared with the runner's tests."""
import json

import pytest

from genurl_pyg.bench.report import load_results
from genurl_pyg.bench.schema import validate_results
from genurl_pyg.bench.suites import suite_cells
from genurl_pyg.cli import main


def test_smoke_suite_runs_every_task_and_writes_a_valid_report(smoke_run):
    code, out, _ = smoke_run
    assert code == 0
    results = load_results(out)
    planned = {c.key for c in suite_cells('smoke')}
    assert {c['key'] for c in results['cells']} == planned
    failed = [(c['key'], c['error']) for c in results['cells'] if c['status'] != 'ok']
    assert not failed
    assert results['complete'] and results['tasks'] == ['node', 'link', 'dr', 'ssl', 'kd']
    for c in results['cells']:
        primary = {'node': 'accuracy', 'link': 'auc', 'dr': 'T10', 'ssl': 'knn',
                   'kd': 'accuracy'}[c['task']]
        assert 0.0 <= c['metrics'][primary] <= 1.0
        assert c['peak_rss_mb'] > 50 and c['seconds'] >= 0
    env = results['environment']
    assert env['versions']['torch'] and env['hardware']['cores'] >= 1
    assert env['threads']['jobs'] == 2 and env['threads']['torch_threads_per_cell'] == 1
    assert all(c['torch_threads'] == 1 for c in results['cells'])
    # summary rows: mean of the seeds' values, one row per (task, data set, method, metric)
    row = next(r for r in results['summary'] if r['task'] == 'dr' and r['method'] == 'pca'
               and r['metric'] == 'T10')
    cell = next(c for c in results['cells'] if c['key'] == 'dr/digits/pca/0')
    assert row['n'] == 1 and row['mean'] == pytest.approx(cell['metrics']['T10'])
    md = (out / 'report.md').read_text()
    html = (out / 'report.html').read_text()
    for task in ('Node classification', 'Link prediction', 'Dimension reduction',
                 'Self-supervised visual', 'Knowledge distillation'):
        assert task in md and task in html
    assert 'src="data:image/png;base64,' in html and 'src="figures/' not in html
    for fig in ('node', 'link', 'dr', 'ssl', 'kd', 'dr_maps', 'cost', 'ssl_knn'):
        assert (out / 'figures' / f'{fig}.png').stat().st_size > 1000
    # the SSL curve ends at the final kNN score
    ssl = next(c for c in results['cells'] if c['task'] == 'ssl')
    assert ssl['extra']['knn_history'][-1]['accuracy'] == pytest.approx(ssl['metrics']['knn'])


def test_resuming_a_finished_run_runs_nothing_and_keeps_the_results(smoke_run, capsys):
    _, out, _ = smoke_run
    before = (out / 'cells.jsonl').read_text()
    assert main(['bench', '--suite', 'smoke', '--out', str(out), '--resume']) == 0
    assert (out / 'cells.jsonl').read_text() == before
    assert '0 to run' in capsys.readouterr().err
    validate_results(json.loads((out / 'results.json').read_text()))


def test_an_existing_run_is_not_overwritten_without_resume(smoke_run, capsys):
    _, out, _ = smoke_run
    before = (out / 'cells.jsonl').read_text()
    assert main(['bench', '--suite', 'smoke', '--out', str(out)]) == 2
    assert 'already holds a bench run' in capsys.readouterr().err
    assert (out / 'cells.jsonl').read_text() == before


def test_compare_with_itself_reports_no_change(smoke_run, capsys):
    _, out, _ = smoke_run
    assert main(['bench', '--suite', 'smoke', '--out', str(out), '--report-only',
                 '--compare', str(out), '--fail-on-regression']) == 0
    assert '0 regression(s), 0 improvement(s)' in (out / 'compare.md').read_text()
