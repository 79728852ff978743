"""The report's figures (PNG under ``<out>/figures``), drawn with matplotlib when installed
(the ``plot`` extra); without it the report has tables only. Returns ``{name: relative path}``.

* ``<task>``: the primary metric per data set and method, mean with a ±std error bar;
* ``dr_maps``: every DR method's 2-D map of seed 0, data sets as rows;
* ``cost``: the method's seconds per cell against the number of samples, per task (log-log);
* ``ssl_knn``: the kNN-monitor accuracy over the SSL epochs, per method.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np

FIGURES = 'figures'


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _save(fig, out: Path, name: str) -> str:
    rel = f'{FIGURES}/{name}.png'
    (out / FIGURES).mkdir(parents=True, exist_ok=True)
    # No timestamp in the PNG: the same results draw the same bytes.
    fig.savefig(out / rel, dpi=90, metadata={'Software': None})
    fig.clf()
    return rel


def _colors(plt, results: Dict[str, Any]) -> Dict[str, Any]:
    """One colour per method across every figure; GenURL's rows in red shades."""
    methods = sorted({c['method'] for c in results['cells']})
    ours = [m for m in methods if m.startswith('genurl')]
    others = [m for m in methods if m not in ours]
    palette = [c for i, c in enumerate(plt.get_cmap('tab20').colors) if i not in (6, 7)]
    colors = {m: palette[i % len(palette)] for i, m in enumerate(others)}
    colors.update({m: ('#d62728', '#ff7f0e', '#8c1c13')[i % 3] for i, m in enumerate(ours)})
    return colors


def _bars(plt, results: Dict[str, Any], task: str, out: Path) -> str:
    from .tasks import get_task
    primary = get_task(task).primary
    rows = [r for r in results['summary'] if r['task'] == task and r['metric'] == primary.name
            and r['n'] > 0]
    datasets = list(dict.fromkeys(r['dataset'] for r in rows))
    methods = list(dict.fromkeys(r['method'] for r in rows))
    scale = 100.0 if primary.percent else 1.0
    width = 0.8 / max(1, len(methods))
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(datasets) * max(1, len(methods)) ** 0.5),
                                    3.4))
    colors = _colors(plt, results)
    for j, m in enumerate(methods):
        xs, ys, es = [], [], []
        for i, ds in enumerate(datasets):
            r = next((r for r in rows if r['dataset'] == ds and r['method'] == m), None)
            if r is not None:
                xs.append(i + (j - (len(methods) - 1) / 2) * width)
                ys.append(scale * r['mean'])
                es.append(scale * r['std'])
        ax.bar(xs, ys, width, yerr=es, capsize=2, label=m, color=colors[m],
               edgecolor='black' if m.startswith('genurl') else 'none')
    values = [scale * r['mean'] for r in rows]
    if values:
        lo, hi = min(values), max(values)
        ax.set_ylim(max(0.0, lo - 0.15 * (hi - lo + 1e-9) - 1e-3 * scale), hi + 0.1 * (hi - lo + 1e-9))
    ax.set_xticks(range(len(datasets)))
    ax.set_xticklabels(datasets)
    ax.set_ylabel(primary.label)
    ax.legend(fontsize=7, ncol=min(4, len(methods)))
    ax.set_title(get_task(task).title, fontsize=9)
    fig.tight_layout()
    return _save(fig, out, task)


def _maps(plt, results: Dict[str, Any], out: Path) -> str:
    from .runner import safe_name
    cells = [c for c in results['cells'] if c['task'] == 'dr' and c['status'] == 'ok'
             and c['seed'] == 0]
    datasets = list(dict.fromkeys(c['dataset'] for c in cells))
    methods = list(dict.fromkeys(c['method'] for c in cells))
    fig, axes = plt.subplots(len(datasets), len(methods), squeeze=False,
                             figsize=(2.4 * len(methods), 2.4 * len(datasets)))
    for i, ds in enumerate(datasets):
        for j, m in enumerate(methods):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(m, fontsize=9)
            if j == 0:
                ax.set_ylabel(ds, fontsize=9)
            cell = next((c for c in cells if c['dataset'] == ds and c['method'] == m), None)
            path = out / 'artifacts' / safe_name(cell['key']) / 'map.npz' if cell else None
            if path is None or not path.is_file():
                continue
            z = np.load(path)
            y = z['labels']
            ax.scatter(z['embedding'][:, 0].astype(np.float32),
                       z['embedding'][:, 1].astype(np.float32), c=y, s=0.5, linewidths=0,
                       cmap='tab10' if np.max(y) < 10 else 'tab20')
    fig.tight_layout()
    return _save(fig, out, 'dr_maps')


def _cost(plt, results: Dict[str, Any], out: Path) -> str:
    cells = [c for c in results['cells'] if c['status'] == 'ok' and c.get('n')
             and c.get('seconds') is not None]
    tasks = list(dict.fromkeys(c['task'] for c in cells))
    fig, axes = plt.subplots(1, len(tasks), squeeze=False, figsize=(3.2 * len(tasks), 3))
    colors = _colors(plt, results)
    for ax, task in zip(axes[0], tasks):
        mine = [c for c in cells if c['task'] == task]
        for m in dict.fromkeys(c['method'] for c in mine):
            pts = [(c['n'], max(c['seconds'], 1e-3)) for c in mine if c['method'] == m]
            ax.scatter(*zip(*pts), s=14, label=m, color=colors[m],
                       marker='*' if m.startswith('genurl') else 'o')
        ax.set_xscale('log')
        ax.set_yscale('log')
        ax.set_xlabel('N (samples)')
        ax.set_ylabel('seconds (method)')
        ax.set_title(task, fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return _save(fig, out, 'cost')


def _ssl_curves(plt, results: Dict[str, Any], out: Path) -> str:
    cells = [c for c in results['cells'] if c['task'] == 'ssl' and c['status'] == 'ok'
             and c.get('extra', {}).get('knn_history')]
    datasets = list(dict.fromkeys(c['dataset'] for c in cells))
    fig, axes = plt.subplots(1, len(datasets), squeeze=False, figsize=(4 * len(datasets), 3))
    colors = _colors(plt, results)
    for ax, ds in zip(axes[0], datasets):
        for c in (c for c in cells if c['dataset'] == ds):
            hist: List[Dict[str, float]] = c['extra']['knn_history']
            ax.plot([h['epoch'] for h in hist], [100 * h['accuracy'] for h in hist],
                    marker='o', ms=3, label=f"{c['method']} s{c['seed']}",
                    color=colors[c['method']])
        ax.set_xlabel('epoch')
        ax.set_ylabel('kNN acc. (%)')
        ax.set_title(ds, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, out, 'ssl_knn')


def draw_figures(results: Dict[str, Any], out: Path) -> Dict[str, str]:
    plt = _pyplot()
    if plt is None:
        return {}
    figures = {}
    try:
        for task in results['tasks']:
            if any(r['task'] == task and r['n'] > 0 for r in results['summary']):
                figures[task] = _bars(plt, results, task, out)
        if any(c['task'] == 'dr' and c['status'] == 'ok' for c in results['cells']):
            figures['dr_maps'] = _maps(plt, results, out)
        if any(c['status'] == 'ok' and c.get('n') for c in results['cells']):
            figures['cost'] = _cost(plt, results, out)
        if any(c['task'] == 'ssl' and c['status'] == 'ok' and
               c.get('extra', {}).get('knn_history') for c in results['cells']):
            figures['ssl_knn'] = _ssl_curves(plt, results, out)
    finally:
        plt.close('all')
    return figures
