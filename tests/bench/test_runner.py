"""The runner: a killed suite resumes where it stopped, a crashed or slow cell is recorded
and the suite goes on, and a damaged run folder is named."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from genurl_pyg.bench.runner import read_cells, run_suite
from genurl_pyg.bench.schema import CellSpec

from .conftest import copy_of_run


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    monkeypatch.setenv('GENURL_DATA', str(tmp_path / 'data'))
    return tmp_path


def test_a_killed_suite_resumes_without_rerunning_finished_cells(data_root):
    out = data_root / 'run'
    proc = subprocess.Popen([sys.executable, '-m', 'genurl_pyg', 'bench', '--suite', 'smoke',
                             '--tasks', 'node', '--out', str(out), '--threads', '1'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not read_cells(out):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the suite and its running cell, mid-run
    proc.wait()
    first = read_cells(out)
    assert len(first) == 1, 'the suite should have been killed after its first cell'
    lines = []
    results = run_suite('smoke', out, ['node'], resume=True, threads=1, log=lines.append)
    assert '1 already finished, 1 to run' in lines[0]
    records = read_cells(out)
    assert [r['key'] for r in records].count(first[0]['key']) == 1  # not run again
    assert records[0] == first[0]
    assert sorted(r['key'] for r in records) == ['node/KarateClub/genurl/0',
                                                 'node/KarateClub/raw/0']
    assert results['complete'] and all(c['status'] == 'ok' for c in results['cells'])


def test_a_crashed_and_a_timed_out_cell_are_recorded_and_the_suite_goes_on(data_root):
    out = data_root / 'run'
    cells = [CellSpec('node', 'KarateClub', 'no-such-method', 0, 60.0),
             CellSpec('node', 'KarateClub', 'raw', 0, 0.3),  # cannot even import torch
             CellSpec('node', 'KarateClub', 'raw', 1, 60.0)]
    results = run_suite('smoke', out, cells=cells, threads=1, log=lambda m: None)
    by = {c['key']: c for c in results['cells']}
    crashed = by['node/KarateClub/no-such-method/0']
    assert crashed['status'] == 'failed' and "unknown node-embedding method 'no-such-method'" \
        in crashed['error']
    assert by['node/KarateClub/raw/0']['status'] == 'timeout'
    assert '0 s budget' in by['node/KarateClub/raw/0']['error']
    assert by['node/KarateClub/raw/1']['status'] == 'ok'
    md = (out / 'report.md').read_text()
    assert 'Cells that did not finish' in md and 'no-such-method' in md
    row = next(r for r in results['summary'] if r['method'] == 'raw' and r['metric'] == 'accuracy')
    assert row['n'] == 1 and row['failed'] == 1 and row['statuses'] == ['timeout']
    # --retry-failed reruns only the failures; without it they count as finished
    lines = []
    run_suite('smoke', out, cells=cells, resume=True, threads=1, log=lines.append)
    assert '3 already finished, 0 to run' in lines[0]
    lines = []
    run_suite('smoke', out, cells=cells[2:], resume=True, retry_failed=True, threads=1,
              log=lines.append)
    assert '1 already finished, 0 to run' in lines[0]


def test_redo_reruns_finished_cells_and_the_report_reads_the_latest(smoke_run, tmp_path,
                                                                    monkeypatch):
    _, shared, data = smoke_run
    out = copy_of_run(shared, tmp_path / 'run')  # a finished run: nothing of it is rerun
    monkeypatch.setenv('GENURL_DATA', str(data))
    first = read_cells(out)
    redone = CellSpec('node', 'KarateClub', 'raw', 0, 60.0)
    assert redone.key in {r['key'] for r in first}
    lines = []
    results = run_suite('smoke', out, cells=[redone], resume=True, redo=True, threads=1,
                        log=lines.append)
    assert '0 already finished, 1 to run' in lines[0]
    records = read_cells(out)
    assert records[:len(first)] == first and len(records) == len(first) + 1  # appended
    assert records[-1]['key'] == redone.key
    latest = {c['key']: c for c in results['cells']}
    assert len(results['cells']) == len({r['key'] for r in first})  # one per cell
    assert latest[redone.key]['finished'] == records[-1]['finished']
    with pytest.raises(ValueError, match='redo reruns finished cells .* needs resume'):
        run_suite('smoke', out, cells=[redone], redo=True, threads=1, log=lambda m: None)


def test_a_run_folder_of_another_suite_is_refused(smoke_run, tmp_path):
    _, shared, _ = smoke_run
    out = copy_of_run(shared, tmp_path / 'run')
    before = (out / 'cells.jsonl').read_text()
    with pytest.raises(ValueError, match="suite 'smoke', not 'quick'"):
        run_suite('quick', out, resume=True, log=lambda m: None)
    assert (out / 'cells.jsonl').read_text() == before  # nothing written


def test_read_cells_skips_a_torn_last_line_and_names_a_damaged_one(tmp_path):
    good = json.dumps({'key': 'a', 'status': 'ok'})
    (tmp_path / 'cells.jsonl').write_text(good + '\n{"key": "b", "sta')
    assert [r['key'] for r in read_cells(tmp_path)] == ['a']
    (tmp_path / 'cells.jsonl').write_text('{"key": \n' + good + '\n')
    with pytest.raises(ValueError, match='line 1 is not JSON'):
        read_cells(tmp_path)


@pytest.mark.parametrize('kwargs, message', [
    ({'jobs': 0}, '--jobs must be an integer >= 1'),
    ({'threads': 0}, '--threads must be an integer >= 1'),
    ({'tasks': ['nodes']}, "unknown task\\(s\\) nodes"),
])
def test_bad_arguments_are_named_before_anything_runs(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_suite('smoke', tmp_path / 'run', log=lambda m: None, **kwargs)
    assert not (tmp_path / 'run').exists()
