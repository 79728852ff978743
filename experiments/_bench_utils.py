"""Helpers shared by the benchmark scripts: fresh-subprocess runs, versions, result files."""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence

RESULTS = Path(__file__).resolve().parent / 'results'
_SHARED = Path(__file__).resolve().parents[2] / 'shared' / 'datasets'
# Benchmarks run offline beside the shared mirror unless told otherwise.
if 'GENURL_DATA_MIRROR' not in os.environ and _SHARED.is_dir():
    os.environ['GENURL_DATA_MIRROR'] = str(_SHARED)

from genurl_pyg.utils.io import atomic_write_text  # noqa: E402
from genurl_pyg.utils.resources import (  # noqa: E402,F401  (for the scripts)
    median_seconds, peak_rss_mb, reset_peak_rss)


def run_child(argv: List[str], timeout: float) -> Dict[str, Any]:
    """Runs ``python argv`` in a fresh process; its last stdout line must be a JSON object."""
    env = dict(os.environ, OMP_WAIT_POLICY='PASSIVE', PYTHONUNBUFFERED='1')
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                          timeout=timeout, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {'error': proc.stderr.strip().splitlines()[-1] if proc.stderr else 'failed',
                'returncode': proc.returncode, 'wall_s': wall}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out['process_wall_s'] = wall
    return out


def alternating_seconds(runs: Dict[str, Callable[[int], float]],
                        seeds: int) -> Dict[str, Dict[str, Any]]:
    """Seconds of each named run for seeds ``0 .. seeds - 1``, the runs alternating seed by
    seed so that a slow spell on a shared machine falls on all of them:
    ``{name: {'seconds': [...], 'median_s': m}}``."""
    secs: Dict[str, List[float]] = {name: [] for name in runs}
    for seed in range(seeds):
        for name, run in runs.items():
            secs[name].append(run(seed))
            print(f'seed {seed} {name}: {secs[name][-1]:.2f} s', file=sys.stderr, flush=True)
    return {name: {'seconds': s, 'median_s': statistics.median(s)} for name, s in secs.items()}


def cora_variant_seconds(variants: Dict[str, Dict[str, Any]], seeds: int) -> Dict[str, Dict]:
    """:func:`alternating_seconds` of whole Cora seeds in this process: for each named
    variant, ``NodeEmbeddingTrainer.fit()`` with the shipped ``cora.yaml`` plus its
    overrides (data loaded once)."""
    from genurl_pyg.datasets import load_dataset
    from genurl_pyg.node import NodeEmbeddingTrainer, dataset_defaults
    data = load_dataset('Cora')
    base = dataset_defaults('Cora')

    def fit(change: Dict[str, Any]) -> Callable[[int], float]:
        def run(seed: int) -> float:
            cfg = base.__class__.from_dict({'seed': seed, **change}, base=base)
            start = time.perf_counter()
            NodeEmbeddingTrainer(data, cfg).fit()
            return time.perf_counter() - start
        return run
    return alternating_seconds({name: fit(change) for name, change in variants.items()}, seeds)


def versions() -> Dict[str, str]:
    from genurl_pyg.utils.versions import library_versions
    import torch
    return {**library_versions(), 'cpu_threads': str(torch.get_num_threads()),
            'machine': platform.machine()}


def open_state(stem: str, benchmark: str, **fields: Any) -> Dict[str, Any]:
    """The results file ``stem``'s state to add rows to (a new one holding ``fields``, the
    versions and no commands, when it does not exist), with this process's command line
    recorded once."""
    path = RESULTS / f'{stem}.json'
    state = json.loads(path.read_text()) if path.exists() else {
        'benchmark': benchmark, 'commands': [], 'versions': versions(), **fields}
    command = 'python ' + ' '.join(sys.argv)
    if command not in state['commands']:
        state['commands'].append(command)
    return state


def write_results(stem: str, payload: Dict[str, Any], markdown: str) -> None:
    for suffix, text in (('.json', json.dumps(payload, indent=2)), ('.md', markdown)):
        atomic_write_text(RESULTS / f'{stem}{suffix}', text)


def join_runs(paths: Sequence[str], rows: str, identity: Callable[[Dict[str, Any]], Any],
              key: Callable[[Dict[str, Any]], Any], mismatch: str, shared: str
              ) -> Dict[str, Any]:
    """Finished runs of one comparison (results JSON files, e.g. one per core) as one
    payload: the first run's fields, every run's ``commands`` and ``conditions``, and the
    runs' ``rows`` lists joined. Raises ValueError naming the file whose ``identity`` differs
    from the first's (``mismatch`` says what differs), or when two runs hold a row with the
    same ``key`` (``shared`` names it)."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    first = runs[0]
    for p, r in zip(paths, runs):
        if identity(r) != identity(first):
            raise ValueError(f'{p}: {mismatch} than {paths[0]}; only runs of one comparison '
                             'merge')
    keys = [key(row) for r in runs for row in r[rows]]
    if len(keys) != len(set(keys)):
        raise ValueError(f'the runs share {shared} ({sorted(keys)}): merge disjoint runs only')
    return {**first, 'commands': [c for r in runs for c in r['commands']],
            'conditions': [c for r in runs for c in r['conditions']],
            rows: [row for r in runs for row in r[rows]]}


def write_merged(stem: str, paths: Sequence[str], merge: Callable[[Sequence[str]], Dict],
                 markdown: Callable[[Dict], str], error: Callable[[str], Any]) -> None:
    """A script's ``--merge``: ``merge(paths)`` written to ``stem``; a file that cannot be
    read or joined goes to ``error`` (an ArgumentParser's) as one line, not a traceback."""
    try:
        payload = merge(paths)
    except (OSError, ValueError, KeyError) as e:
        error(f'--merge: {e}')
    write_results(stem, payload, markdown(payload))


def parse_overrides(items: Sequence[str], error: Callable[[str], Any]) -> Dict[str, Any]:
    """``{key: value}`` from ``--set KEY=JSON`` items (strings quoted: ``key='"text"'``);
    a malformed item goes to ``error`` (an ArgumentParser's ``error``) by name."""
    out = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep:
            error(f'--set {item!r}: expected KEY=JSON')
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            error(f'--set {item!r}: the value is not JSON (quote strings: \'"text"\')')
    return out


def check_stem(option: str, stem: str, error: Callable[[str], Any]) -> None:
    """``error`` (an ArgumentParser's) unless ``stem`` is a plain file name for
    ``results/`` (no folder, not hidden): a results stem may not write elsewhere."""
    if not stem or '/' in stem or stem.startswith('.'):
        error(f'{option} must be a plain file name, got {stem!r}')
