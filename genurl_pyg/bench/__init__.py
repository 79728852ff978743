"""The cross-task benchmark suite: ``genurl-pyg bench``.

* :mod:`.suites`: which data sets, methods, seeds and budgets each suite runs
  (``smoke``, ``quick``, ``full``, ``gpu``);
* :mod:`.tasks`: one definition per task (node, link, dr, ssl, kd): what a cell runs, its
  metrics and GenURL's targets;
* :mod:`.runner`: every cell in its own process under its budget, recorded as it finishes
  (resumable, a crash is a record, not the end of the suite);
* :mod:`.report`, :mod:`.figures`: ``results.json`` (:mod:`.schema`), ``report.md``,
  ``report.html``; :mod:`.compare`: changes beyond noise against an older run;
  :mod:`.readme`: the README's generated benchmark section;
* :mod:`.peers`: the self-supervised graph peers (DGI, CCA-SSG, GRACE, BGRL, GraphMAE).

Python use::

    from genurl_pyg.bench import run_suite, load_results, compare_results
    results = run_suite('quick', 'runs/bench-quick', jobs=2, threads=1)
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {'run_suite': 'runner', 'suite_cells': 'suites', 'SUITES': 'suites',
            'write_report': 'report', 'load_results': 'report',
            'compare_results': 'compare', 'format_comparison': 'compare',
            'CellSpec': 'schema', 'validate_results': 'schema'}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f'{__name__}.{_EXPORTS[name]}'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
