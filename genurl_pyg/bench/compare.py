r"""``--compare OLD``: every change between two suite results beyond the seeds' noise.

Rows are matched by (task, data set, method, metric). A change :math:`\Delta = \bar x_{new} -
\bar x_{old}` is reported when

.. math:: |\Delta| > \max\Big(\text{floor},\; 2\sqrt{s_{old}^2 / n_{old} + s_{new}^2 / n_{new}}\Big)

(two standard errors of the difference; ``floor`` is the metric's ``noise_floor``, which also
covers one-seed rows), and marked a **regression** when it goes the metric's wrong way.
Rows present on one side only are listed as added or dropped. Cost: O(rows).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List

from .schema import Metric


def _metrics(results: Dict[str, Any]) -> Dict[tuple, Metric]:
    return {(task, m['name']): Metric(**m) for task, ms in results['metrics'].items()
            for m in ms}


def compare_results(old: Dict[str, Any], new: Dict[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    """``{'changes': [...], 'added': [...], 'dropped': [...]}``; each change holds the row's
    key, both means, ``delta``, ``noise`` and ``regression``."""
    metrics = {**_metrics(old), **_metrics(new)}

    def index(res):
        return {(r['task'], r['dataset'], r['method'], r['metric']): r
                for r in res['summary'] if r['n'] > 0}
    a, b = index(old), index(new)
    changes = []
    for key in [k for k in b if k in a]:
        ro, rn = a[key], b[key]
        metric = metrics.get((key[0], key[3])) or Metric(key[3], key[3])
        delta = rn['mean'] - ro['mean']
        se = math.sqrt(ro['std'] ** 2 / ro['n'] + rn['std'] ** 2 / rn['n'])
        noise = max(metric.noise_floor, 2 * se)
        if abs(delta) <= noise:
            continue
        worse = delta < 0 if metric.higher_is_better else delta > 0
        changes.append({'task': key[0], 'dataset': key[1], 'method': key[2],
                        'metric': key[3], 'old': ro['mean'], 'new': rn['mean'],
                        'delta': delta, 'noise': noise, 'regression': worse,
                        'percent': metric.percent})
    return {'changes': changes,
            'added': [dict(zip(('task', 'dataset', 'method', 'metric'), k))
                      for k in b if k not in a],
            'dropped': [dict(zip(('task', 'dataset', 'method', 'metric'), k))
                        for k in a if k not in b]}


def format_comparison(cmp: Dict[str, List[Dict[str, Any]]], old_name: str = 'old') -> str:
    """Markdown: regressions first, then improvements, then added / dropped rows."""
    def num(v, pct):
        return f'{100 * v:.2f}' if pct else f'{v:.4g}'
    lines = [f'# Changes against {old_name}', '',
             'Beyond noise: |delta| > max(noise floor, 2 standard errors of the difference).', '']
    changes = sorted(cmp['changes'], key=lambda c: (not c['regression'], c['task'],
                                                    c['dataset'], c['method']))
    regressions = sum(c['regression'] for c in changes)
    lines.append(f"{regressions} regression(s), {len(changes) - regressions} improvement(s), "
                 f"{len(cmp['added'])} row(s) added, {len(cmp['dropped'])} dropped.")
    if changes:
        lines += ['', '| | task | data set | method | metric | old | new | delta | noise |',
                  '|---|---|---|---|---|---|---|---|---|']
        for c in changes:
            p = c['percent']
            lines.append(f"| {'REGRESSION' if c['regression'] else 'better'} | {c['task']} | "
                         f"{c['dataset']} | {c['method']} | {c['metric']} | {num(c['old'], p)} "
                         f"| {num(c['new'], p)} | {'+' if c['delta'] > 0 else ''}"
                         f"{num(c['delta'], p)} | {num(c['noise'], p)} |")
    for what in ('added', 'dropped'):
        if cmp[what]:
            keys = sorted({f"{r['task']}/{r['dataset']}/{r['method']}" for r in cmp[what]})
            lines += ['', f'{what.capitalize()}: ' + ', '.join(keys)]
    return '\n'.join(lines) + '\n'
