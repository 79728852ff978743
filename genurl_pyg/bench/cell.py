"""One benchmark cell in its own process: ``python -m genurl_pyg.bench.cell SPEC RESULT``.

``SPEC`` is a JSON file holding the :class:`~genurl_pyg.bench.schema.CellSpec` plus the run
folder; the cell writes ``RESULT`` (JSON: metrics, seconds, peak RSS of this process, ...)
only when it finished, so a crash or a kill leaves no result and the runner records why.
Threads come from ``$GENURL_BENCH_THREADS`` (set by the runner).
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

# Trainings that can stop early stop at this share of the budget, leaving time to score;
# a task may stop them earlier by its measured scoring reserve (CellContext.deadline_before).
TRAINING_SHARE = 0.8


def _finite(metrics):
    out, bad = {}, []
    for k, v in metrics.items():
        v = None if v is None else float(v)
        if v is not None and not math.isfinite(v):
            bad.append(k)
            v = None
        out[k] = v
    return out, bad


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print('usage: python -m genurl_pyg.bench.cell SPEC.json RESULT.json', file=sys.stderr)
        return 2
    started = time.perf_counter()
    spec_path, result_path = Path(argv[0]), Path(argv[1])
    spec = json.loads(spec_path.read_text())
    warnings.filterwarnings('ignore', category=FutureWarning)
    warnings.filterwarnings('ignore', category=DeprecationWarning)
    import torch
    threads = int(os.environ.get('GENURL_BENCH_THREADS', '0') or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    from ..utils.io import atomic_write_json
    from ..utils.resources import peak_rss_mb
    from .schema import CellSpec
    from .tasks import CellContext, get_task
    cell = CellSpec.from_dict(spec['cell'])
    artifacts = Path(spec['artifacts'])
    cache = Path(spec['cache'])
    artifacts.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    ctx = CellContext(artifacts, cache, started + TRAINING_SHARE * cell.budget_s,
                      end=started + cell.budget_s)
    out = get_task(cell.task).run(cell, ctx)
    metrics, bad = _finite(out['metrics'])
    note = out.get('note', '')
    if bad:
        note = (note + '; ' if note else '') + f"non-finite {', '.join(bad)}"
    atomic_write_json(result_path, {
        'metrics': metrics, 'seconds': float(out.get('seconds', 0.0)),
        'n': out.get('n'), 'note': note, 'extra': out.get('extra', {}),
        'peak_rss_mb': peak_rss_mb(), 'torch_threads': torch.get_num_threads(),
        'cell_seconds': time.perf_counter() - started})
    return 0


if __name__ == '__main__':
    sys.exit(main())
