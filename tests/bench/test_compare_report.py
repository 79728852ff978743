"""Summaries, targets, --compare and the README section, on hand-made records checked
against numpy and by hand."""
import copy
import re
from pathlib import Path

import numpy as np
import pytest

from genurl_pyg.bench.compare import compare_results, format_comparison
from genurl_pyg.bench.readme import BEGIN, END, current_section, readme_section, replace_section
from genurl_pyg.bench.report import load_results, summarize_cells, task_tables
from genurl_pyg.bench.schema import SCHEMA, SCHEMA_VERSION, validate_results
from genurl_pyg.bench.tasks import get_task
from genurl_pyg.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _cell(method, seed, acc, status='ok', dataset='Cora'):
    return {'key': f'node/{dataset}/{method}/{seed}', 'task': 'node', 'dataset': dataset,
            'method': method, 'seed': seed, 'status': status,
            'metrics': {} if status != 'ok' else {'accuracy': acc, 'adam_accuracy': acc,
                                                  'val_accuracy': acc},
            'seconds': 1.0 + seed, 'peak_rss_mb': 100.0 + seed, 'n': 2708}


def _results(cells):
    return validate_results({
        'schema': SCHEMA, 'schema_version': SCHEMA_VERSION, 'suite': 'quick',
        'tasks': ['node'], 'complete': True,
        'environment': {'versions': {'torch': 'x'}, 'commit': 'abc', 'dirty': False,
                        'hardware': {'cpu': 'cpu', 'cores': 2, 'memory_gb': 1, 'gpus': []},
                        'threads': {'jobs': 1, 'torch_threads_per_cell': 2}, 'command': 'c'},
        'metrics': {'node': [vars(m) for m in get_task('node').metrics]},
        'cells': cells, 'summary': summarize_cells(cells)})


def _accs(rng, mean, n=10, sd=0.005):
    return list(mean + sd * rng.standard_normal(n))


def test_summary_is_the_mean_and_population_std_and_judges_genurl_against_the_best_peer():
    rng = np.random.default_rng(0)
    ours, dgi, cca = _accs(rng, 0.82), _accs(rng, 0.80), _accs(rng, 0.835)
    cells = ([_cell('genurl', s, a) for s, a in enumerate(ours)]
             + [_cell('dgi', s, a) for s, a in enumerate(dgi)]
             + [_cell('cca_ssg', s, a) for s, a in enumerate(cca)]
             + [_cell('cca_ssg', 10, None, status='timeout')])
    res = _results(cells)
    row = next(r for r in res['summary'] if r['method'] == 'genurl' and r['metric'] == 'accuracy')
    assert row['mean'] == pytest.approx(np.mean(ours)) and row['std'] == pytest.approx(np.std(ours))
    assert row['n'] == 10 and row['seconds'] == pytest.approx(5.5) and row['peak_rss_mb'] == 109
    assert not row['target']['met'] and 'cca_ssg' in row['target']['text']
    assert '84.5' in row['target']['text']  # the absolute target of the issue, Cora
    cca_row = next(r for r in res['summary'] if r['method'] == 'cca_ssg'
                   and r['metric'] == 'accuracy')
    assert cca_row['failed'] == 1 and cca_row['target'] is None
    header, body = task_tables(res)['node']
    assert body[0][:3] == ['Cora', 'dgi', '10'] and 'MISSED' in body[-1][-1]
    assert body[1][2] == '10 (+1 timeout)'


def test_compare_flags_an_injected_regression_and_ignores_noise():
    rng = np.random.default_rng(1)
    base = ([_cell('genurl', s, a) for s, a in enumerate(_accs(rng, 0.82, sd=0.01))]
            + [_cell('dgi', s, a) for s, a in enumerate(_accs(rng, 0.80, sd=0.01))]
            + [_cell('raw', 0, 0.53)])
    old = _results(base)
    cells = copy.deepcopy(base)
    for c in cells:
        if c['method'] == 'genurl':  # an injected regression: 3 points on every seed
            c['metrics'] = {k: v - 0.03 for k, v in c['metrics'].items()}
        if c['method'] == 'dgi':  # a change far inside the seeds' noise
            c['metrics'] = {k: v + 0.001 for k, v in c['metrics'].items()}
        if c['method'] == 'raw':  # one seed: within the 1-point floor
            c['metrics'] = {k: v + 0.004 for k, v in c['metrics'].items()}
    cells.append(_cell('sgc', 0, 0.71))
    cmp = compare_results(old, _results(cells))
    flagged = {(c['method'], c['metric']) for c in cmp['changes']}
    assert flagged == {('genurl', 'accuracy'), ('genurl', 'adam_accuracy'),
                       ('genurl', 'val_accuracy')}
    assert all(c['regression'] for c in cmp['changes'])
    assert cmp['changes'][0]['delta'] == pytest.approx(-0.03)
    assert {r['method'] for r in cmp['added']} == {'sgc'} and not cmp['dropped']
    text = format_comparison(cmp)
    assert '3 regression(s), 0 improvement(s), 3 row(s) added' in text
    assert '| REGRESSION | node | Cora | genurl | accuracy |' in text
    # the same change in the good direction is an improvement, not a regression
    cmp = compare_results(_results(cells), old)
    assert not any(c['regression'] for c in cmp['changes']) and len(cmp['changes']) == 3


def test_lower_is_better_metrics_regress_upwards():
    from genurl_pyg.bench.schema import Metric
    fit = Metric('fit_s', 'fit', higher_is_better=False, noise_floor=1.0, percent=False)
    def res(v):
        return {'metrics': {'dr': [vars(fit)]}, 'summary': [
            {'task': 'dr', 'dataset': 'digits', 'method': 'genurl', 'metric': 'fit_s',
             'mean': v, 'std': 0.0, 'n': 1}]}
    assert compare_results(res(10.0), res(15.0))['changes'][0]['regression']
    assert not compare_results(res(10.0), res(5.0))['changes'][0]['regression']
    assert not compare_results(res(10.0), res(10.8))['changes']


@pytest.mark.parametrize('mutate, message', [
    (lambda r: r.update(schema='other'), "not a bench results file"),
    (lambda r: r.update(schema_version=99), 'schema_version 99'),
    (lambda r: r.pop('cells'), "'cells' must be a list"),
    (lambda r: r['cells'][0].update(status='weird'), "status 'weird'"),
    (lambda r: r['summary'][0].pop('mean'), "lacks 'mean'"),
])
def test_a_damaged_results_file_is_named(mutate, message):
    res = _results([_cell('genurl', 0, 0.8)])
    mutate(res)
    with pytest.raises(ValueError, match=message):
        validate_results(res)


def test_load_results_names_a_missing_or_non_json_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_results(tmp_path)
    (tmp_path / 'results.json').write_text('{oops')
    with pytest.raises(ValueError, match='is not JSON'):
        load_results(tmp_path)


def test_readme_section_replaces_only_what_is_between_the_markers():
    res = _results([_cell('genurl', 0, 0.8), _cell('dgi', 0, 0.79)])
    section = readme_section(res, 'x/report.md')
    text = f'intro\n{BEGIN}\nold\n{END}\noutro\n'
    new = replace_section(text, section)
    assert new.startswith('intro\n') and new.endswith('\noutro\n')
    assert current_section(new) == section
    assert '| Cora | genurl | 1 | 80.00 ± 0.00 | accuracy >= best peer (dgi 79.00) met' in section
    with pytest.raises(ValueError, match='no benchmark section markers'):
        replace_section('no markers here', section)


def test_the_readme_section_is_the_one_its_committed_results_give():
    """The README's benchmark section is generated, never edited by hand."""
    readme = (ROOT / 'README.md').read_text()
    section = current_section(readme)
    assert section, 'README.md has no generated benchmark section'
    link = re.search(r'\[([^\]]+report\.md)\]', section).group(1)
    results = load_results((ROOT / link).parent)
    assert section == readme_section(results, link)


def test_cli_list_and_errors(capsys):
    assert main(['bench', '--suite', 'quick', '--list']) == 0
    out = capsys.readouterr().out
    assert 'node/Cora/genurl/2' in out and 'cells; at most' in out
    assert main(['bench', '--suite', 'quick', '--tasks', 'node,vision', '--list']) == 2
    assert "unknown task(s) vision" in capsys.readouterr().err
    assert main(['bench', '--suite', 'full', '--tasks', 'link', '--datasets', 'ogbl-ddi',
                 '--list']) == 0
    out = capsys.readouterr().out
    assert '6 cells' in out and 'link/ogbl-ddi/genurl/2' in out and 'Cora' not in out
    assert main(['bench', '--suite', 'full', '--tasks', 'link', '--datasets', 'ddi',
                 '--list']) == 2
    assert "--datasets: ddi not in the full suite (tasks link)" in capsys.readouterr().err
    assert main(['bench', '--suite', 'full', '--tasks', 'link', '--datasets', 'Cora',
                 '--methods', 'genurl,cca_ssg', '--list']) == 0
    out = capsys.readouterr().out
    assert '10 cells' in out and 'link/Cora/cca_ssg/4' in out and 'sgc' not in out
    assert main(['bench', '--suite', 'quick', '--methods', 'gnurl', '--list']) == 2
    err = capsys.readouterr().err
    assert '--methods: gnurl not in the selected cells' in err and 'genurl' in err
    assert main(['bench', '--suite', 'quick', '--redo', '--out', 'unused']) == 2
    assert '--redo reruns finished cells of an existing run: it needs --resume' in \
        capsys.readouterr().err


def test_the_gpu_suite_says_it_needs_cuda(tmp_path, capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip('this machine has CUDA')
    assert main(['bench', '--suite', 'gpu', '--out', str(tmp_path / 'g')]) == 2
    assert 'no CUDA device' in capsys.readouterr().err
    assert not (tmp_path / 'g').exists()
