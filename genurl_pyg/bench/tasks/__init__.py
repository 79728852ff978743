"""Benchmark task definitions: what a cell of each task runs and how it is scored and judged.

Each module holds one :class:`Task`: its metrics (one primary), ``run(cell, ctx)`` (executed
inside the cell's own process; returns the metrics and what the report shows beside them)
and ``targets(rows)`` (GenURL's verdict per data set from the summary rows). Which data sets,
methods, seeds and budgets a suite runs is :mod:`genurl_pyg.bench.suites`' business.

========  ==========================================================================
``node``  node classification from frozen embeddings (LR probe, Adam probe)
``link``  link prediction from frozen embeddings (held-out edges, AUC, Hits@20)
``dr``    dimension reduction to 2-D (trustworthiness, continuity, 5-NN, fit time)
``ssl``   self-supervised visual pretraining (kNN monitor, linear probe, s/epoch)
``kd``    distillation of a GNN teacher into a graph-free MLP (LR probe, held-out nodes)
========  ==========================================================================
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from ..schema import CellSpec, Metric

TASK_NAMES = ('node', 'link', 'dr', 'ssl', 'kd')


@dataclass
class CellContext:
    """What a running cell may use: ``artifacts`` (files the report draws, e.g. 2-D maps),
    ``cache`` (results shared between cells of one run, e.g. a KD teacher), the
    ``deadline`` (a ``time.perf_counter()`` value) that long trainings stop at, and the
    cell's ``end`` (when the runner kills it; None: no budget)."""
    artifacts: Path
    cache: Path
    deadline: float = field(default_factory=lambda: time.perf_counter() + 3600.0)
    end: Optional[float] = None

    def deadline_before(self, reserve_s: float) -> float:
        """The training deadline that leaves ``reserve_s`` seconds of scoring before the
        cell's ``end``: the earlier of ``deadline`` and ``end - reserve_s``. A task whose
        scoring cost grows with the data (the link probe) measures its reserve; the budget
        share of ``deadline`` alone left Photo's link probe too little (issue 18)."""
        if self.end is None:
            return self.deadline
        return min(self.deadline, self.end - float(reserve_s))


@dataclass
class Task:
    name: str
    title: str
    metrics: Sequence[Metric]
    run: Callable[[CellSpec, CellContext], Dict[str, Any]]
    targets: Callable[[List[Dict[str, Any]]], Dict[str, Dict[str, Any]]]
    methods: Sequence[str] = ()

    @property
    def primary(self) -> Metric:
        return next(m for m in self.metrics if m.primary)


def get_task(name: str) -> Task:
    if name not in TASK_NAMES:
        raise ValueError(f"unknown benchmark task {name!r}; known: {', '.join(TASK_NAMES)}")
    return import_module(f'{__name__}.{name}').TASK


def mean_of(rows: List[Dict[str, Any]], method: str, metric: str) -> Optional[float]:
    """The summary mean of (method, metric) among one data set's rows, None if absent."""
    for r in rows:
        if r['method'] == method and r['metric'] == metric and r['n'] > 0:
            return r['mean']
    return None


def versus_best(rows: List[Dict[str, Any]], metric: Metric, peers: Sequence[str],
                ours: str = 'genurl') -> Optional[Dict[str, Any]]:
    """GenURL's ``metric`` against the best of ``peers`` present: ``{'text', 'met'}``, or
    None when either side has no result."""
    mine = mean_of(rows, ours, metric.name)
    scored = [(mean_of(rows, p, metric.name), p) for p in peers]
    scored = [(v, p) for v, p in scored if v is not None]
    if mine is None or not scored:
        return None
    pick = max if metric.higher_is_better else min
    value, name = pick(scored)
    met = mine >= value if metric.higher_is_better else mine <= value
    sign = '>=' if metric.higher_is_better else '<='
    return {'text': f'{metric.name} {sign} best peer ({name} {metric.format(value)})',
            'met': bool(met)}


def combine(*verdicts: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    parts = [v for v in verdicts if v is not None]
    if not parts:
        return None
    return {'text': '; '.join(v['text'] + (' met' if v['met'] else ' MISSED') for v in parts),
            'met': all(v['met'] for v in parts)}
