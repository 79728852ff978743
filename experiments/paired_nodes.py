"""Is a difference between two node-embedding variants larger than the choice of nodes?

Reads two ``node_variants.py --save-predictions`` files of the same data set and seeds and,
for each node set (validation, test, and the labelled nodes in neither: "holdout"),
reports the two accuracies, their difference and the difference's standard error over
*nodes*: with d_n the per-node difference in correctness averaged over the seeds, the SE
is std(d_n) / sqrt(#nodes). Seed noise is averaged out; what is left is how much the
difference depends on which nodes were drawn into the set, so it says whether a gain seen
on 1,000 test nodes and not on 500 validation nodes can be the same effect measured twice.
Also prints the share of nodes on which the variants disagree and a z-score for the
test-minus-validation contrast of the differences.

The **selection** row (validation and holdout nodes together: 1,568 on Cora's public
split, SE about 0.4 points against validation's 0.7) is what a variant is chosen on
(``node_study.md`` section 9): B is chosen over A when its difference there exceeds
``--z`` (default 2) node-level standard errors; test nodes never enter the choice, and
they are not printed or saved unless ``--show-test`` asks (the one final reading, or the
test-minus-validation contrast of section 9), so that a choice is never read beside them.

Random splits (DBLP, the co-purchase and co-author graphs: each seed draws its own 10/10/80
split) pair the nodes within each seed instead: the difference is the mean over seeds of
the per-seed difference, its SE the per-seed node-level SEs combined; there is no holdout,
so the selection row is the validation row.

``--fixed-c C`` reads both variants' probes at one ``C`` of the grid instead of the ``C``
each chose on validation (files written since session 30 keep every ``C``'s predictions);
``--fixed-c all`` prints the comparison at every ``C``. The chosen ``C`` maximises the
validation accuracy over the grid on the validation nodes themselves, so a difference that
appears on validation and not on the holdout nodes at the chosen ``C``, and on neither at
a fixed ``C``, came from the choice, not from the embeddings.

Usage:
  python experiments/paired_nodes.py A.npz B.npz [--json OUT.json] [--fixed-c C|all]
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import List, Tuple

import numpy as np


def per_node_difference(a: dict, b: dict, rows: np.ndarray) -> np.ndarray:
    """Mean over seeds of correct_B - correct_A for each node in ``rows``."""
    labels = a['labels']
    ca = (a['predictions'][:, rows] == labels[rows]).astype(float)
    cb = (b['predictions'][:, rows] == labels[rows]).astype(float)
    return (cb - ca).mean(0)


SETS = ('val', 'test', 'holdout', 'selection')


def node_sets(train: np.ndarray, val: np.ndarray, test: np.ndarray) -> dict:
    """The node sets of one split: holdout = labelled in none of the three; selection =
    validation + holdout (what a variant is chosen on)."""
    holdout = ~(train | val | test)
    return {'val': val, 'test': test, 'holdout': holdout, 'selection': val | holdout}


def _se(d: np.ndarray) -> float:
    return float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else math.nan


def paired_points(mine: List[float], theirs: List[float]) -> Tuple[float, float]:
    """Mean and SE, in points, of the per-seed differences ``mine[i] - theirs[i]`` of two
    accuracies given as fractions (the same seeds in the same order): the benchmarks'
    paired reading of one method against another. The SE of one seed is 0 (no spread)."""
    d = 100 * (np.asarray(mine, dtype=float) - np.asarray(theirs, dtype=float))
    return float(d.mean()), (_se(d) if d.size > 1 else 0.0)


def _compare_per_seed(a: dict, b: dict, masks: np.ndarray) -> dict:
    """Random splits: each seed draws its own node sets, so nodes are paired within a seed.

    Per seed s, d_s is B's accuracy minus A's on that seed's set and its node-level variance
    is var(correct_B - correct_A) / n_s; the reported difference is the mean of d_s and its
    SE sqrt(sum_s var_s) / S. Nodes in none of the three sets form the holdout, as on a
    fixed split (none under a 10/10/80 split, whose test set takes the rest).
    """
    labels = a['labels']
    splits = [node_sets(*m) for m in masks]  # one split per seed
    out = {}
    for name in SETS:
        diffs, variances, accs, disagree, counts = [], [], [], [], []
        for s, sets in enumerate(splits):
            rows = np.flatnonzero(sets[name] & (labels >= 0))
            if rows.size == 0:
                continue
            pa, pb = a['predictions'][s, rows], b['predictions'][s, rows]
            d = (pb == labels[rows]).astype(float) - (pa == labels[rows]).astype(float)
            diffs.append(d.mean())
            variances.append(d.var(ddof=1) / rows.size if rows.size > 1 else math.nan)
            accs.append(((pa == labels[rows]).mean(), (pb == labels[rows]).mean()))
            disagree.append((pa != pb).mean())
            counts.append(rows.size)
        if not counts:
            out[name] = {'nodes': 0, 'acc_a': math.nan, 'acc_b': math.nan, 'diff': math.nan,
                         'se_nodes': math.nan, 'disagree': math.nan}
            continue
        acc = np.mean(accs, axis=0)
        out[name] = {'nodes': int(round(np.mean(counts))), 'acc_a': float(acc[0]),
                     'acc_b': float(acc[1]), 'diff': float(np.mean(diffs)),
                     'se_nodes': float(math.sqrt(np.sum(variances)) / len(counts)),
                     'disagree': float(np.mean(disagree))}
    return out


def compare(a: dict, b: dict) -> dict:
    if a['predictions'].shape != b['predictions'].shape:
        raise ValueError('the two files hold different seeds or node counts: '
                         f"{a['predictions'].shape} vs {b['predictions'].shape}")
    masks = a['masks']
    if not np.array_equal(masks, b['masks']):
        raise ValueError('the two files were scored on different splits')
    labels = a['labels']
    if masks.shape[0] > 1 and not (masks == masks[0]).all():
        out = _compare_per_seed(a, b, masks)
    else:
        out = {}
        for name, mask in node_sets(*masks[0]).items():
            rows = np.flatnonzero(mask & (labels >= 0))
            d = per_node_difference(a, b, rows)
            acc = [float((f['predictions'][:, rows] == labels[rows]).mean()) for f in (a, b)]
            disagree = float((a['predictions'][:, rows] != b['predictions'][:, rows]).mean())
            out[name] = {'nodes': int(rows.size), 'acc_a': acc[0], 'acc_b': acc[1],
                         'diff': float(d.mean()),
                         'se_nodes': _se(d), 'disagree': disagree}
    t, v = out['test'], out['val']
    out['test_minus_val_z'] = _z(t['diff'] - v['diff'], math.hypot(t['se_nodes'], v['se_nodes']))
    sel = out['selection']
    out['selection_z'] = _z(sel['diff'], sel['se_nodes'])
    return out


def _z(diff: float, se: float) -> float:
    """diff / se; with no spread (identical predictions) 0 for no difference, else ±inf."""
    if se > 0:
        return diff / se
    return math.copysign(math.inf, diff) if diff else 0.0


def load_runs(paths: List[str]) -> dict:
    """One variant's ``--save-predictions`` files (e.g. seeds 0-4 on one core, 5-9 on the
    other) as one, concatenated along the seed axis. They must be the same data set and
    variant, with the same labels, and no seed twice."""
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise ValueError(f'no such predictions file: {", ".join(missing)} (write one with '
                         'node_variants.py --save-predictions)')
    runs = [dict(np.load(p, allow_pickle=False)) for p in paths]
    first = runs[0]
    for p, r in zip(paths[1:], runs[1:]):
        for key in ('dataset', 'variant', 'protocol'):
            if key not in r or key not in first:  # files from before --protocol: their
                continue  # data set's own split, which the masks check in compare() reads
            if str(r[key]) != str(first[key]):
                raise ValueError(f'{p} is {key} {r[key]!s}, {paths[0]} is {first[key]!s}: '
                                 'only runs of one variant on one data set can be joined')
        if not np.array_equal(r['labels'], first['labels']):
            raise ValueError(f'{p} has other labels than {paths[0]}')
    seeds = np.concatenate([r['seeds'] for r in runs])
    if len(np.unique(seeds)) != len(seeds):
        raise ValueError(f'seeds {seeds.tolist()} repeat across {paths}: a seed counted '
                         'twice would shrink the SE it does not earn')
    out = {**first, 'seeds': seeds,
           'predictions': np.concatenate([r['predictions'] for r in runs]),
           'masks': np.concatenate([r['masks'] for r in runs])}
    # every C's predictions only where every file has them on one grid
    if all('predictions_by_c' in r and np.array_equal(r['cs'], first['cs']) for r in runs):
        for key in ('predictions_by_c', 'chosen_c'):
            out[key] = np.concatenate([r[key] for r in runs])
    else:
        for key in ('predictions_by_c', 'chosen_c', 'cs'):
            out.pop(key, None)
    return out


def _require_every_c(run: dict) -> None:
    if 'predictions_by_c' not in run:
        raise ValueError(f"{run.get('variant', 'this run')!s}: its files keep only the "
                         "chosen C's predictions (written before session 30, or joined "
                         'with such a file): rerun node_variants.py --save-predictions '
                         'to read a fixed C')


def at_fixed_c(run: dict, c: float) -> dict:
    """``run`` with its probe's predictions at ``C = c`` in place of the validation-chosen
    ``C``'s (``predictions_by_c``, written by ``node_variants.py --save-predictions``)."""
    _require_every_c(run)
    cs = [float(x) for x in run['cs']]
    matches = [i for i, x in enumerate(cs) if math.isclose(x, c, rel_tol=1e-9)]
    if not matches:
        grid = ', '.join(f'{x:g}' for x in cs)
        raise ValueError(f"C = {c:g} is not in the probe's grid ({grid})")
    return {**run, 'predictions': run['predictions_by_c'][:, matches[0]]}


def choose_b(result: dict, z: float = 2.0) -> bool:
    """Whether B beats A on the selection nodes by more than ``z`` node-level SEs."""
    return result['selection_z'] > z


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('a', help='variant A: one file, or several joined by commas (one '
                              'variant, different seeds, e.g. one run per core)')
    ap.add_argument('b', help='variant B, the same way')
    ap.add_argument('--json')
    ap.add_argument('--z', type=float, default=2.0,
                    help='SEs by which B must beat A on the selection nodes (default 2)')
    ap.add_argument('--show-test', action='store_true',
                    help='also print and save the test nodes and the test-minus-validation '
                         'contrast (off: a choice is read without them)')
    ap.add_argument('--fixed-c', metavar='C|all',
                    help="read both probes at this C of the grid instead of the C chosen on "
                         "validation; 'all': one line per C")
    args = ap.parse_args()
    try:
        a, b = (load_runs(p.split(',')) for p in (args.a, args.b))
        if args.fixed_c == 'all':
            per_c = _print_every_c(a, b, args.show_test)
            if args.json:  # every C's comparison, keyed by C ('chosen' for the probe's own)
                with open(args.json, 'w') as f:
                    json.dump({'a': args.a, 'b': args.b, 'fixed_c': 'all', 'by_c': per_c},
                              f, indent=1)
            return
        if args.fixed_c is not None:
            a, b = (at_fixed_c(r, _float_arg(args.fixed_c)) for r in (a, b))
    except ValueError as err:  # a clear one-line message, not a traceback
        ap.error(str(err))
    res = compare(a, b)
    if not args.show_test:
        res = _without_test(res)
    print(f"{a['dataset']}: {a['variant']} (A) vs {b['variant']} (B), "
          f"seeds {a['seeds'].tolist()}"
          + (f', probe C fixed at {args.fixed_c}' if args.fixed_c is not None else ''))
    print('| nodes | count | A | B | B - A | SE over nodes | disagree |')
    print('|---|---|---|---|---|---|---|')
    for name in _sets(args.show_test):
        r = res[name]
        print(f"| {name} | {r['nodes']} | {100 * r['acc_a']:.2f} | {100 * r['acc_b']:.2f} | "
              f"{100 * r['diff']:+.2f} | {100 * r['se_nodes']:.2f} | {100 * r['disagree']:.1f} % |")
    if args.show_test:
        print(f"test-minus-validation contrast: z = {res['test_minus_val_z']:.2f}")
    chosen = 'B' if choose_b(res, args.z) else 'A'
    print(f"selection (validation + holdout): z = {res['selection_z']:.2f}; chosen: {chosen}"
          + ('' if chosen == 'B' else ' (B does not clear the bar)'))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'a': args.a, 'b': args.b, 'z_bar': args.z, 'chosen': chosen,
                       'fixed_c': args.fixed_c, **res}, f, indent=1)


def _sets(show_test: bool) -> tuple:
    """The node sets printed: the selection's, and the test nodes only on request."""
    return ('val', 'holdout', 'selection') + (('test',) if show_test else ())


def _without_test(res: dict) -> dict:
    """``compare``'s result without what the test nodes say."""
    return {k: v for k, v in res.items() if k not in ('test', 'test_minus_val_z')}


def _float_arg(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--fixed-c takes a number of the probe's C grid or 'all', got "
                         f'{text!r}') from None


def _print_every_c(a: dict, b: dict, show_test: bool = False) -> dict:
    """One line per C of the grid (and the chosen C's): B - A ± SE on each node set, and
    how many seeds' probes chose that C for A and for B. Returns the comparisons printed,
    keyed by ``'chosen'`` and by each C (with the counts under ``'seeds_choosing'``)."""
    for r in (a, b):
        _require_every_c(r)
    if not np.array_equal(a['cs'], b['cs']):
        raise ValueError(f"the two variants' probes used different C grids: {a['cs']} vs "
                         f"{b['cs']}")
    print(f"{a['dataset']}: {a['variant']} (A) vs {b['variant']} (B), "
          f"seeds {a['seeds'].tolist()}; B - A ± SE over nodes, points")
    sets = _sets(show_test)
    print(f"| C | {' | '.join(sets)} | seeds choosing it (A / B) |")
    print('|---' * (len(sets) + 2) + '|')

    out = {}

    def line(name, res, chose):
        res = res if show_test else _without_test(res)
        out[name] = dict(res, **({'seeds_choosing': chose} if chose else {}))
        cells = [f"{100 * res[s]['diff']:+.2f} ± {100 * res[s]['se_nodes']:.2f}"
                 for s in sets]
        print(f"| {name} | {' | '.join(cells)} | {chose} |")
    line('chosen', compare(a, b), '')
    for c in a['cs']:
        c = float(c)
        counts = ' / '.join(str(int(np.isclose(r['chosen_c'], c).sum())) for r in (a, b))
        line(f'{c:g}', compare(at_fixed_c(a, c), at_fixed_c(b, c)), counts)
    return out


if __name__ == '__main__':
    main()
