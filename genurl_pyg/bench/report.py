"""The suite's report: ``results.json`` (see :mod:`.schema`), ``report.md`` and a
self-contained ``report.html`` (figures inlined), built from a run folder's ``cells.jsonl``.

Tables: per task, one row per (data set, method) with mean ± std over the seeds that
finished, the seeds, the mean seconds of the method's own work, the peak memory of its
processes and, on GenURL's rows, the task's target (met or MISSED). Figures (matplotlib,
optional): the primary metric with error bars per task, the 2-D maps side by side, cost
against N, and the kNN accuracy over SSL epochs. Rebuilding the report from the same folder
gives the same files.
"""
from __future__ import annotations

import base64
import html
import json
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .schema import SCHEMA, SCHEMA_VERSION, Metric, validate_results
from .tasks import TASK_NAMES, get_task


def _latest(records: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One record per cell key, the last one written (a retried cell replaces its failure)."""
    by_key: Dict[str, Dict[str, Any]] = {}
    for r in records:
        by_key.pop(r['key'], None)
        by_key[r['key']] = r
    return list(by_key.values())


def _order(cells: List[Dict[str, Any]]) -> List[Tuple[str, str, str]]:
    seen: Dict[Tuple[str, str, str], None] = {}
    for task in TASK_NAMES:
        methods = list(get_task(task).methods)
        rows = [c for c in cells if c['task'] == task]
        datasets = list(dict.fromkeys(c['dataset'] for c in rows))
        for ds in datasets:
            present = {c['method'] for c in rows if c['dataset'] == ds}
            for m in [m for m in methods if m in present] + sorted(present - set(methods)):
                seen[(task, ds, m)] = None
    return list(seen)


def summarize_cells(cells: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Summary rows (one per task, data set, method, metric) with the task's targets."""
    rows: List[Dict[str, Any]] = []
    for task, ds, method in _order(cells):
        group = [c for c in cells if (c['task'], c['dataset'], c['method']) == (task, ds, method)]
        ok = sorted((c for c in group if c['status'] == 'ok'), key=lambda c: c['seed'])
        secs = [c['seconds'] for c in ok if c['seconds'] is not None]
        peaks = [c['peak_rss_mb'] for c in ok if c['peak_rss_mb'] is not None]
        for metric in get_task(task).metrics:
            pairs = [(c['seed'], c['metrics'].get(metric.name)) for c in ok]
            pairs = [(s, v) for s, v in pairs if v is not None]
            values = [v for _, v in pairs]
            rows.append({'task': task, 'dataset': ds, 'method': method, 'metric': metric.name,
                         'mean': float(np.mean(values)) if values else None,
                         'std': float(np.std(values)) if values else None,
                         'n': len(values), 'values': values, 'seeds': [s for s, _ in pairs],
                         'seconds': float(np.mean(secs)) if secs else None,
                         'peak_rss_mb': max(peaks) if peaks else None,
                         'failed': sum(c['status'] != 'ok' for c in group),
                         'statuses': sorted({c['status'] for c in group if c['status'] != 'ok'}),
                         'target': None})
    for task in TASK_NAMES:
        primary = get_task(task).primary.name
        for ds in dict.fromkeys(r['dataset'] for r in rows if r['task'] == task):
            mine = [r for r in rows if r['task'] == task and r['dataset'] == ds]
            verdicts = get_task(task).targets([r for r in mine if r['n'] > 0])
            for r in mine:
                if r['metric'] == primary and r['method'] in verdicts:
                    r['target'] = verdicts[r['method']]
    return rows


def build_results(out: Path) -> Dict[str, Any]:
    from ..utils.io import read_json_object
    from .runner import RUN_FILE, read_cells
    out = Path(out)
    if not (out / RUN_FILE).exists():
        raise FileNotFoundError(f'{out} is not a bench run folder (no {RUN_FILE})')
    info = read_json_object(out / RUN_FILE)
    cells = _latest(read_cells(out))
    tasks = [t for t in TASK_NAMES if t in info.get('tasks', [])]
    planned = set(info.get('planned', []))
    results = {'schema': SCHEMA, 'schema_version': SCHEMA_VERSION, 'suite': info['suite'],
               'tasks': tasks, 'complete': planned <= {c['key'] for c in cells},
               'started': info.get('started'), 'resumed': info.get('resumed', []),
               'environment': info['environment'],
               'metrics': {t: [vars(m) for m in get_task(t).metrics] for t in tasks},
               'cells': cells, 'summary': summarize_cells(cells),
               'missing': sorted(planned - {c['key'] for c in cells})}
    return validate_results(results)


def load_results(path: Path) -> Dict[str, Any]:
    """A ``results.json`` (or the run folder holding one), validated."""
    path = Path(path)
    if path.is_dir():
        path = path / 'results.json'
    if not path.is_file():
        raise FileNotFoundError(f'{path} does not exist (give a bench --out folder or its '
                                'results.json)')
    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f'{path} is not JSON: {exc.msg} (line {exc.lineno})') from exc
    return validate_results(obj)


# -- text ---------------------------------------------------------------------------------

def _cell_text(row: Optional[Dict[str, Any]], metric: Metric) -> str:
    if row is None or row['mean'] is None:
        return '—'
    return f"{metric.format(row['mean'])} ± {metric.format(row['std'])}"


def task_tables(results: Dict[str, Any]) -> Dict[str, Tuple[List[str], List[List[str]]]]:
    """Per task: (header, rows) of plain strings, shared by Markdown, HTML and the README."""
    tables = {}
    for task in results['tasks']:
        metrics = [Metric(**m) for m in results['metrics'][task]]
        rows = [r for r in results['summary'] if r['task'] == task]
        header = ['data set', 'method', 'seeds', *[m.label for m in metrics],
                  's (method)', 'peak MB', 'target']
        body = []
        for ds, method in dict.fromkeys((r['dataset'], r['method']) for r in rows):
            mine = {r['metric']: r for r in rows if (r['dataset'], r['method']) == (ds, method)}
            first = mine[metrics[0].name]
            seeds = str(first['n'])
            if first['failed']:
                seeds += f" (+{first['failed']} {'/'.join(first['statuses'])})"
            target = next((r['target'] for r in mine.values() if r['target']), None)
            body.append([ds, method, seeds, *[_cell_text(mine.get(m.name), m) for m in metrics],
                         '—' if first['seconds'] is None else f"{first['seconds']:.1f}",
                         '—' if first['peak_rss_mb'] is None else f"{first['peak_rss_mb']:.0f}",
                         target['text'] if target else ''])
        tables[task] = (header, body)
    return tables


def conditions(results: Dict[str, Any]) -> List[str]:
    env = results['environment']
    hw, th = env['hardware'], env['threads']
    commit = env.get('commit') or 'unknown'
    commits = sorted({c['commit'][:12] for c in results['cells'] if c.get('commit')})
    lines = [f"Suite **{results['suite']}**, started {results.get('started')}"
             + (f", resumed {len(results['resumed'])}x" if results.get('resumed') else '')
             + ('' if results['complete'] else
                f", **incomplete: {len(results.get('missing', []))} planned cells not run**"),
             f"Commit {commit[:12]}{' (with uncommitted changes)' if env.get('dirty') else ''}"
             + (f" (cells from {len(commits)} commits: {', '.join(commits)})"
                if len(commits) > 1 else '') + ';'
             f" command `{env.get('command') or 'genurl-pyg bench'}`",
             f"Machine: {hw['cpu']}, {hw['cores']} cores, {hw['memory_gb']} GiB"
             + (f", GPUs {', '.join(hw['gpus'])}" if hw['gpus'] else ', no GPU'),
             f"Threads: {th['jobs']} cell(s) at a time, {th['torch_threads_per_cell']} torch "
             f"thread(s) per cell; every cell in its own process",
             'Versions: ' + ', '.join(f'{k} {v}' for k, v in env['versions'].items())]
    return lines


def render_markdown(results: Dict[str, Any], figures: Dict[str, str]) -> str:
    out = ['# genurl-pyg benchmark suite', '']
    out += [f'{ln}  ' for ln in conditions(results)]
    out += ['', 'Mean ± std over the seeds that finished (population std). "s (method)": the '
            "mean seconds of the method's own work per cell (training or fit, not probes); "
            "peak MB: the largest peak RSS of the method's cell processes. Targets are judged "
            'on the primary (first) metric; a missed target stays in the table, marked MISSED.',
            '']
    for task, (header, body) in task_tables(results).items():
        out += [f'## {get_task(task).title}', '', '| ' + ' | '.join(header) + ' |',
                '|' + '---|' * len(header)]
        out += ['| ' + ' | '.join(row) + ' |' for row in body]
        if task in figures:
            out += ['', f'![{task}]({figures[task]})']
        out.append('')
    for key, title in (('dr_maps', '2-D maps (seed 0)'), ('cost', 'Cost against N'),
                       ('ssl_knn', 'kNN accuracy over SSL epochs')):
        if key in figures:
            out += [f'## {title}', '', f'![{key}]({figures[key]})', '']
    bad = [c for c in results['cells'] if c['status'] != 'ok']
    if bad:
        out += ['## Cells that did not finish', '', '| cell | status | error |', '|---|---|---|']
        out += [f"| {c['key']} | {c['status']} | {c['error']} |" for c in bad]
        out.append('')
    if results.get('missing'):
        per_task = Counter(key.split('/')[0] for key in results['missing'])
        out += ['## Planned cells not run yet', '',
                f"{len(results['missing'])} cells ("
                + ', '.join(f'{t} {c}' for t, c in per_task.items())
                + '); `results.json` lists them. Continue with `--resume`.', '']
    return '\n'.join(out)


def render_html(results: Dict[str, Any], figures: Dict[str, str], folder: Path) -> str:
    def img(rel: str) -> str:
        data = base64.b64encode((folder / rel).read_bytes()).decode()
        return f'<img alt="{html.escape(rel)}" src="data:image/png;base64,{data}">'
    parts = ['<!DOCTYPE html><html><head><meta charset="utf-8">',
             '<title>genurl-pyg benchmark suite</title><style>',
             'body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}',
             'table{border-collapse:collapse;margin:1em 0}',
             'td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}',
             'td:nth-child(-n+2),th{text-align:left}.missed{color:#b00;font-weight:bold}',
             '.met{color:#070}img{max-width:100%}</style></head><body>',
             '<h1>genurl-pyg benchmark suite</h1><ul>']
    parts += [f'<li>{html.escape(ln).replace("**", "")}</li>' for ln in conditions(results)]
    parts.append('</ul>')
    for task, (header, body) in task_tables(results).items():
        parts.append(f'<h2>{html.escape(get_task(task).title)}</h2><table><tr>'
                     + ''.join(f'<th>{html.escape(h)}</th>' for h in header) + '</tr>')
        for row in body:
            cls = 'missed' if 'MISSED' in row[-1] else ('met' if row[-1] else '')
            cells = ''.join(f'<td>{html.escape(v)}</td>' for v in row[:-1])
            parts.append(f'<tr>{cells}<td class="{cls}">{html.escape(row[-1])}</td></tr>')
        parts.append('</table>')
        if task in figures:
            parts.append(img(figures[task]))
    for key in ('dr_maps', 'cost', 'ssl_knn'):
        if key in figures:
            parts.append(f'<h2>{key}</h2>{img(figures[key])}')
    bad = [c for c in results['cells'] if c['status'] != 'ok']
    if bad:
        parts.append('<h2>Cells that did not finish</h2><table><tr><th>cell</th><th>status'
                     '</th><th>error</th></tr>')
        parts += [f"<tr><td>{html.escape(c['key'])}</td><td>{c['status']}</td><td>"
                  f"{html.escape(str(c['error']))}</td></tr>" for c in bad]
        parts.append('</table>')
    parts.append('</body></html>')
    return '\n'.join(parts)


def write_report(out: Path) -> Dict[str, Any]:
    """Builds ``results.json``, ``report.md``, ``report.html`` and the figures in ``out``."""
    from ..utils.io import atomic_write_json, atomic_write_text
    from .figures import draw_figures
    out = Path(out)
    results = build_results(out)
    figures = draw_figures(results, out)
    atomic_write_json(out / 'results.json', results)
    atomic_write_text(out / 'report.md', render_markdown(results, figures))
    atomic_write_text(out / 'report.html', render_html(results, figures, out))
    return results
