"""Runs a suite's cells, each in its own process under its budget, and records each result as
it finishes.

The run folder::

    run.json          suite, tasks, environment, start and resume times
    cells.jsonl       one JSON record per finished cell (ok, failed or timeout), appended
                      and flushed as each cell ends: a killed suite loses only running cells
    logs/<cell>.log   the cell's stdout and stderr
    artifacts/<cell>/ what the report draws (2-D maps)
    cache/            shared by the cells of one run (a KD seed's teacher)
    results.json, report.md, report.html, figures/   written by :mod:`.report`

``resume=True`` skips every cell already in ``cells.jsonl`` (with ``retry_failed``, only the
successful ones; with ``redo``, none: the given cells run again and their new records are
appended, which the report reads as the latest); without it an existing run folder is an
error and nothing is touched.
Cost: one Python start (about 3 s with torch and PyG) per cell on top of its work; ``jobs``
cells run at once, each with ``threads`` torch threads.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from .schema import CellSpec
from .suites import suite_cells

CELLS_FILE = 'cells.jsonl'
RUN_FILE = 'run.json'


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec='seconds')


def safe_name(key: str) -> str:
    """A file name for a cell key (``node/Cora/genurl/0`` -> ``node__Cora__genurl__0``)."""
    return re.sub(r'[^A-Za-z0-9_.+-]', '_', key.replace('/', '__'))


def read_cells(out: Path) -> List[Dict[str, Any]]:
    """The records of ``out/cells.jsonl``; a torn last line (a kill while writing) is
    ignored, any other unreadable line is an error naming it."""
    path = Path(out) / CELLS_FILE
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    records = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if i == len(lines) - 1:
                continue
            raise ValueError(f'{path} line {i + 1} is not JSON ({exc.msg}); the run folder '
                             'is damaged') from exc
    return records


def _append(out: Path, record: Dict[str, Any]) -> None:
    with open(Path(out) / CELLS_FILE, 'a') as f:
        f.write(json.dumps(record, allow_nan=False) + '\n')
        f.flush()
        os.fsync(f.fileno())


def _error_line(log: Path) -> str:
    """The last line of a failed cell's log that names an exception, else its last line."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors='replace').splitlines() if ln.strip()]
    except OSError:
        return 'no log'
    for ln in reversed(lines):
        if re.match(r'^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b', ln):
            return ln[:500]
    return lines[-1][:500] if lines else 'exited without output'


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def default_threads(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


class _Running:
    def __init__(self, cell: CellSpec, proc: subprocess.Popen, result: Path, log: Path,
                 log_handle) -> None:
        self.cell, self.proc, self.result, self.log = cell, proc, result, log
        self.log_handle = log_handle
        self.started = time.perf_counter()
        self.started_at = _now()


def _start(cell: CellSpec, out: Path, threads: int, python: str) -> _Running:
    name = safe_name(cell.key)
    for sub in ('specs', 'results', 'logs', 'artifacts', 'cache'):
        (out / sub).mkdir(parents=True, exist_ok=True)
    spec = out / 'specs' / f'{name}.json'
    result = out / 'results' / f'{name}.json'
    if result.exists():
        result.unlink()
    spec.write_text(json.dumps({'cell': cell.to_dict(), 'artifacts': str(out / 'artifacts' / name),
                                'cache': str(out / 'cache')}))
    log = out / 'logs' / f'{name}.log'
    handle = open(log, 'w')
    env = dict(os.environ, GENURL_BENCH_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads),
               OMP_WAIT_POLICY='PASSIVE', PYTHONUNBUFFERED='1')
    proc = subprocess.Popen([python, '-m', 'genurl_pyg.bench.cell', str(spec), str(result)],
                            stdout=handle, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    return _Running(cell, proc, result, log, handle)


def _finish(run: _Running, out: Path, timed_out: bool, commit: Optional[str] = None
            ) -> Dict[str, Any]:
    run.log_handle.close()
    wall = time.perf_counter() - run.started
    record: Dict[str, Any] = {**run.cell.to_dict(), 'key': run.cell.key, 'metrics': {},
                              'seconds': None, 'wall_seconds': wall, 'peak_rss_mb': None,
                              'n': None, 'note': '', 'extra': {}, 'error': None,
                              'started': run.started_at, 'finished': _now(),
                              'commit': commit,
                              'log': str(run.log.relative_to(out))}
    if timed_out:
        record.update(status='timeout',
                      error=f'killed at the {run.cell.budget_s:.0f} s budget of the cell')
    elif run.proc.returncode == 0 and run.result.exists():
        res = json.loads(run.result.read_text())
        record.update(status='ok', metrics=res['metrics'], seconds=res['seconds'],
                      peak_rss_mb=res['peak_rss_mb'], n=res.get('n'),
                      note=res.get('note', ''), extra=res.get('extra', {}),
                      torch_threads=res.get('torch_threads'))
    else:
        record.update(status='failed', error=f'exit code {run.proc.returncode}: '
                      f'{_error_line(run.log)}')
    return record


def _summary_line(record: Dict[str, Any]) -> str:
    from .tasks import get_task
    if record['status'] != 'ok':
        return f"{record['status'].upper()}: {record['error']}"
    primary = get_task(record['task']).primary
    value = record['metrics'].get(primary.name)
    shown = 'n/a' if value is None else primary.format(value)
    return f"{primary.name} {shown} ({record['seconds']:.1f} s, {record['peak_rss_mb']:.0f} MB)"


def execute(cells: Sequence[CellSpec], out: Path, jobs: int = 1, threads: Optional[int] = None,
            log: Callable[[str], None] = print, python: str = sys.executable) -> None:
    """Runs ``cells`` (``jobs`` at a time) and appends each record to ``out/cells.jsonl``.
    Ctrl-C kills the running cells and re-raises; finished records stay."""
    from .environment import git_commit
    threads = threads or default_threads(jobs)
    commit = git_commit()['commit']  # stamped on every record: a resumed run may span commits
    queue, running = deque(cells), []
    total, done, t0 = len(cells), 0, time.perf_counter()
    try:
        while queue or running:
            while queue and len(running) < jobs:
                cell = queue.popleft()
                log(f'  start {cell.key} (budget {cell.budget_s:.0f} s)')
                running.append(_start(cell, out, threads, python))
            time.sleep(0.1)
            for run in list(running):
                timed_out = (run.proc.poll() is None
                             and time.perf_counter() - run.started > run.cell.budget_s)
                if timed_out:
                    _kill(run.proc)
                elif run.proc.poll() is None:
                    continue
                running.remove(run)
                record = _finish(run, out, timed_out, commit)
                _append(out, record)
                done += 1
                elapsed = time.perf_counter() - t0
                eta = elapsed / done * (total - done)
                log(f'[{done}/{total}] {run.cell.key}: {_summary_line(record)}; '
                    f'{elapsed / 60:.1f} min so far, about {eta / 60:.1f} min left')
    except BaseException:
        for run in running:
            _kill(run.proc)
            run.log_handle.close()
        raise


def run_suite(suite: str, out: Path, tasks: Optional[Sequence[str]] = None,
              resume: bool = False, retry_failed: bool = False, jobs: int = 1,
              redo: bool = False,
              threads: Optional[int] = None, command: str = '',
              log: Callable[[str], None] = print,
              cells: Optional[List[CellSpec]] = None) -> Dict[str, Any]:
    """Runs ``suite`` (or the given ``cells``) into ``out`` and writes the report; returns
    the results (see :mod:`.schema`)."""
    from ..utils.io import atomic_write_json, ensure_writable_dir, read_json_object
    from .environment import describe
    from .report import write_report
    if redo and not resume:
        raise ValueError('redo reruns finished cells of an existing run: it needs resume')
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f'--jobs must be an integer >= 1, got {jobs!r}')
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ValueError(f'--threads must be an integer >= 1, got {threads!r}')
    cells = list(cells) if cells is not None else suite_cells(suite, tasks)
    if suite == 'gpu':
        import torch
        if not torch.cuda.is_available():
            raise ValueError("the 'gpu' suite runs on CUDA and this machine has no CUDA "
                             "device (torch.cuda.is_available() is False); run 'quick' or "
                             "'full' here")
    out = Path(out)
    run_path = out / RUN_FILE
    previous: Dict[str, Any] = {}
    if run_path.exists() or (out / CELLS_FILE).exists():
        if not resume:
            raise FileExistsError(f'{out} already holds a bench run; pass --resume to continue '
                                  'it or choose another --out (nothing was changed)')
        if run_path.exists():
            previous = read_json_object(run_path)
            if previous.get('suite') != suite:
                raise ValueError(f"{out} holds a run of suite {previous.get('suite')!r}, not "
                                 f'{suite!r}; choose another --out')
    ensure_writable_dir(out)
    threads = threads or default_threads(jobs)
    task_names = sorted(set(previous.get('tasks', [])) | {c.task for c in cells})
    info = {'suite': suite, 'tasks': task_names, 'started': previous.get('started', _now()),
            'resumed': previous.get('resumed', []) + ([_now()] if previous else []),
            'environment': describe(jobs, threads, command),
            'planned': sorted({c.key for c in cells} | set(previous.get('planned', [])))}
    atomic_write_json(run_path, info)
    records = read_cells(out)
    finished = set() if redo else {r['key'] for r in records
                                   if r['status'] == 'ok' or not retry_failed}
    todo = [c for c in cells if c.key not in finished]
    log(f"bench {suite}: {len(cells)} cells ({', '.join(sorted({c.task for c in cells}))}), "
        f'{len(cells) - len(todo)} already finished, {len(todo)} to run; {jobs} at a time, '
        f'{threads} torch thread(s) each -> {out}')
    execute(todo, out, jobs, threads, log)
    return write_report(out)
