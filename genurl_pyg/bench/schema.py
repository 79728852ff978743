r"""The suite's records: one cell, one metric, and the versioned ``results.json`` layout.

A **cell** is one (task, data set, method, seed) run: it executes in its own process under a
time budget and leaves one record in ``cells.jsonl``. ``results.json`` (schema
``genurl-pyg/bench-results``, version :data:`SCHEMA_VERSION`) gathers them::

    {
      "schema": "genurl-pyg/bench-results", "schema_version": 1,
      "suite": "quick", "tasks": ["node", ...], "complete": true,
      "environment": {"versions": {...}, "commit": "9f0bbea...", "dirty": false,
                      "hardware": {"cpu": ..., "cores": 2, "memory_gb": 23.4, "gpus": []},
                      "threads": {"jobs": 1, "torch_threads_per_cell": 2, ...},
                      "command": "genurl-pyg bench --suite quick", "started": ISO-8601},
      "metrics": {"node": [{"name": "accuracy", "label": ..., "higher_is_better": true,
                            "noise_floor": 0.01, "percent": true, "primary": true}, ...]},
      "cells": [{"key": "node/Cora/genurl/0", "task": "node", "dataset": "Cora",
                 "method": "genurl", "seed": 0, "status": "ok" | "failed" | "timeout",
                 "metrics": {"accuracy": 0.827, ...}, "seconds": 13.2,
                 "wall_seconds": 17.0, "peak_rss_mb": 702.0, "n": 2708,
                 "error": null, "note": "", "extra": {...}}, ...],
      "summary": [{"task": "node", "dataset": "Cora", "method": "genurl",
                   "metric": "accuracy", "mean": 0.827, "std": 0.008, "n": 10,
                   "values": [...], "seeds": [0, ...], "seconds": 13.2,
                   "peak_rss_mb": 702.0, "failed": 0,
                   "target": {"text": ">= best peer (cca_ssg 83.49)", "met": false}}, ...]
    }

``std`` is the population standard deviation over seeds (``numpy.std``); ``target`` is
present on the rows a task judges (GenURL's primary metric) and ``null`` elsewhere.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Mapping

SCHEMA = 'genurl-pyg/bench-results'
SCHEMA_VERSION = 1
STATUSES = ('ok', 'failed', 'timeout')


@dataclass(frozen=True)
class Metric:
    """A score a task reports. ``noise_floor``: the smallest change ``--compare`` reports
    when the seeds give no spread (one seed, or identical values)."""
    name: str
    label: str
    higher_is_better: bool = True
    noise_floor: float = 0.01
    percent: bool = True
    primary: bool = False
    digits: int = 2  # decimals shown (of the percentage when ``percent``)

    def format(self, value: float) -> str:
        return f'{100 * value if self.percent else value:.{self.digits}f}'


@dataclass
class CellSpec:
    """One unit of work: ``params`` are method overrides (epochs of a smoke preset, ...)."""
    task: str
    dataset: str
    method: str
    seed: int
    budget_s: float
    params: Dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f'{self.task}/{self.dataset}/{self.method}/{self.seed}'

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> 'CellSpec':
        missing = [k for k in ('task', 'dataset', 'method', 'seed', 'budget_s') if k not in d]
        if missing:
            raise ValueError(f"cell record lacks {', '.join(missing)}")
        return cls(str(d['task']), str(d['dataset']), str(d['method']), int(d['seed']),
                   float(d['budget_s']), dict(d.get('params') or {}))


def validate_results(obj: Any) -> Dict[str, Any]:
    """Checks a loaded ``results.json`` against the layout above; raises ``ValueError``
    naming the first problem. Returns ``obj``."""
    if not isinstance(obj, dict):
        raise ValueError(f'results must be a JSON object, got {type(obj).__name__}')
    if obj.get('schema') != SCHEMA:
        raise ValueError(f"not a bench results file: 'schema' is {obj.get('schema')!r}, "
                         f'expected {SCHEMA!r}')
    if obj.get('schema_version') != SCHEMA_VERSION:
        raise ValueError(f"results schema_version {obj.get('schema_version')!r} is not "
                         f'{SCHEMA_VERSION}, the version this genurl-pyg reads')
    for key, kind in (('suite', str), ('tasks', list), ('environment', dict),
                      ('metrics', dict), ('cells', list), ('summary', list),
                      ('complete', bool)):
        if not isinstance(obj.get(key), kind):
            raise ValueError(f"results field {key!r} must be a {kind.__name__}")
    for i, cell in enumerate(obj['cells']):
        for key in ('key', 'task', 'dataset', 'method', 'seed', 'status', 'metrics'):
            if key not in cell:
                raise ValueError(f'results cell {i} lacks {key!r}')
        if cell['status'] not in STATUSES:
            raise ValueError(f"results cell {cell['key']} has status {cell['status']!r}, "
                             f'not one of {STATUSES}')
    for i, row in enumerate(obj['summary']):
        for key in ('task', 'dataset', 'method', 'metric', 'mean', 'std', 'n'):
            if key not in row:
                raise ValueError(f'results summary row {i} lacks {key!r}')
    return obj

