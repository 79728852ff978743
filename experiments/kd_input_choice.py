"""A label-free held-out check for choosing distillation's P: which variant's student best
reproduces the teacher's neighbourhoods on observed nodes it did not train on (issue 15).

Why: ``input_weight`` 1.0 (P from the student's own input features) beats the teacher's P
on the held-out validation nodes of Computers and the Facebook100 graphs by 4-9 points and
loses on the citation and co-author graphs and Photo by 1-2.5 (``kd_benchmark_notes.md``,
sessions 41-46). Neither the kNN overlap of input and teacher nor the feature agreement
predicted which (session 46). Labels cannot choose it in a user's run; this check uses
none. On the observed nodes of the inductive protocol (the nodes a student may train on):

1. a seeded ``check_fraction`` of them is set aside (the *check* nodes); each variant's
   student is distilled from the teacher's embeddings of the other observed nodes only,
   on their induced subgraph;
2. every observed node is embedded by the student from its features; for each check node
   the k nearest observed nodes in the student's space are compared with its k nearest in
   the teacher's (the distillation config's k and metric, P's own kNN settings);
3. **fidelity** = the mean share of a check node's teacher neighbours that the student
   finds (:func:`kd_neighbour_agreement.knn_overlap`); the same share on the fit nodes is
   reported beside it (how much of the fidelity is memorised).

The check reads no label and no held-out node, so it could run inside a user's
distillation; this script first asks whether its choice agrees with held-out validation
accuracy on the graphs already read. Cost per graph and seed: one teacher training, one
student per variant on (1 - check_fraction) of the observed nodes, two kNN searches per
variant over the observed nodes (O(n k) memory).

Usage::

    python experiments/kd_input_choice.py --datasets Cora CiteSeer --seeds 0 \\
        --variant genurl= --variant iw1=input_weight=1.0 --out kd_input_choice_a
    python experiments/kd_input_choice.py --merge A.json B.json --out kd_input_choice

(variants as in ``kd_inductive_variants.py``: ``NAME=K=V,...``, ``NAME=`` the defaults.)
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import (check_stem, join_runs, versions, write_merged,  # noqa: E402
                          write_results)
from kd_inductive_variants import parse_variants  # noqa: E402
from kd_neighbour_agreement import knn_overlap  # noqa: E402


def check_fraction(fraction: float) -> None:
    """ValueError unless 0 < ``fraction`` < 1 (the share of observed nodes set aside)."""
    if not 0 < fraction < 1:
        raise ValueError(f'--check-fraction must be in (0, 1), got {fraction}')


def check_nodes(num_observed: int, fraction: float, seed: int):
    """A seeded boolean mask of ``round(fraction * n)`` observed nodes (at least one)."""
    import torch
    check_fraction(fraction)
    count = max(1, int(round(fraction * num_observed)))
    g = torch.Generator().manual_seed(seed + 2000)  # apart from the protocol's own draws
    mask = torch.zeros(num_observed, dtype=torch.bool)
    mask[torch.randperm(num_observed, generator=g)[:count]] = True
    return mask


def neighbours(emb, k: int, metric: str):
    """``[n, k]`` indices of every row's k nearest other rows. Exact search: an approximate
    backend's misses would read as the student's."""
    from genurl_pyg.structure.knn import knn_graph
    return knn_graph(emb.float(), k, metric, method='exact')[0]


def fidelity(student_nn, teacher_nn, rows) -> float:
    """Mean share of the teacher's k nearest observed nodes that the student's k nearest
    share, over ``rows`` (a boolean mask), from the two :func:`neighbours` tables."""
    return knn_overlap(student_nn[rows], teacher_nn[rows])


def measure(dataset: str, seed: int, variants, check_fraction: float,
            smoke: bool = False) -> dict:
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.distill.config import DistillConfig
    from genurl_pyg.distill.graph import (distill_node_embeddings, held_out_validation,
                                          observed_subgraph)
    from genurl_pyg.distill.run import train_teacher
    from genurl_pyg.evaluation import split_for
    data = load_dataset(dataset)
    _, va, te = split_for(data, get_spec(dataset).protocol, seed)
    held, _, _ = held_out_validation(va, te, seed)  # the nodes no student may see
    t0 = time.perf_counter()
    fitted, _, _, _ = train_teacher(data, dataset, seed, held,
                                    {'epochs': 2} if smoke else None)
    sub = observed_subgraph(data, held)
    check = check_nodes(sub.num_nodes, check_fraction, seed)
    fit_graph = observed_subgraph(sub, check)
    row = {'dataset': dataset, 'seed': seed, 'observed_nodes': int(sub.num_nodes),
           'check_nodes': int(check.sum()), 'teacher_s': time.perf_counter() - t0,
           'variants': {}}
    teacher_nn = {}  # the teacher's neighbour table per (k, metric): one search each
    for name, over in variants:
        kw = dict(over, **({'epochs': 2, 'batch_size': 16} if smoke else {}))
        cfg = DistillConfig.from_dict(kw).validate().resolved(images=False)
        t0 = time.perf_counter()
        student = distill_node_embeddings(fit_graph, fitted[~check], seed=seed, **kw)
        nn_s = neighbours(student.embed(sub.x), cfg.k, cfg.metric)
        if (cfg.k, cfg.metric) not in teacher_nn:
            teacher_nn[cfg.k, cfg.metric] = neighbours(fitted, cfg.k, cfg.metric)
        nn_t = teacher_nn[cfg.k, cfg.metric]
        row['variants'][name] = {'check_fidelity': fidelity(nn_s, nn_t, check),
                                 'fit_fidelity': fidelity(nn_s, nn_t, ~check),
                                 'k': cfg.k, 'metric': cfg.metric,  # each variant's own
                                 'seconds': time.perf_counter() - t0}
        print(f'[kd_input_choice] {dataset} seed {seed} {name}: '
              f"{row['variants'][name]}", file=sys.stderr, flush=True)
    row['choice'] = max(row['variants'], key=lambda n: row['variants'][n]['check_fidelity'])
    return row


def markdown(payload) -> str:
    names = [n for n, _ in payload['variants']]
    lines = ['# Distillation: a label-free held-out check of which P serves unseen nodes '
             '(issue 15)', '', *(f'Command: `{c}`  ' for c in payload['commands']),
             *(f'Conditions: {c}  ' for c in payload['conditions'] if c),
             'Protocol: `kd_input_choice.py`. Observed nodes of the inductive protocol '
             '(`kd_inductive_variants.py`: half the validation and a fifth of the test nodes '
             f"held out); {payload['check_fraction']:.0%} of them set aside as check nodes; each "
             "variant's student trained on the rest; **fidelity** = mean share of a check "
             "node's k teacher neighbours (among the observed nodes) among its k student "
             "neighbours. No label read. Variants: "
             + '; '.join(f"**{n}** `{json.dumps(o) if o else 'defaults'}`"
                         for n, o in payload['variants']), '',
             '| data set | seed | observed | check | k (per variant where they differ) | '
             + ' | '.join(f'{n} check (fit)' for n in names) + ' | choice |',
             '|---' * (6 + len(names)) + '|']
    for r in payload['rows']:
        cells = [f"{v['check_fidelity']:.4f} ({v['fit_fidelity']:.4f})"
                 for v in (r['variants'][n] for n in names)]
        # k per variant (rows written before session 48 hold one k for the row)
        ks = [str(r['variants'][n].get('k', r.get('k'))) for n in names]
        k_cell = ks[0] if len(set(ks)) == 1 else '/'.join(ks)
        lines.append(f"| {r['dataset']} | {r['seed']} | {r['observed_nodes']:,} | "
                     f"{r['check_nodes']:,} | {k_cell} | " + ' | '.join(cells)
                     + f" | {r['choice']} |")
    return '\n'.join(lines) + '\n'


def merge(paths) -> dict:
    """Runs of the same variants and check fraction over disjoint (data set, seed) rows."""
    return join_runs(paths, 'rows', lambda r: (r['variants'], r['check_fraction']),
                     lambda row: (row['dataset'], row['seed']),
                     'other variants or check fraction', 'a (data set, seed)')


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--datasets', nargs='+', default=['Cora'])
    ap.add_argument('--seeds', nargs='+', type=int, default=[0])
    ap.add_argument('--variant', action='append', default=[], metavar='NAME=K=V,...')
    ap.add_argument('--check-fraction', type=float, default=0.2,
                    help='share of the observed nodes set aside as check nodes (0.2)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', required=True, help='name under experiments/results/')
    ap.add_argument('--conditions', default='', help='the run conditions, recorded')
    ap.add_argument('--merge', nargs='+', metavar='JSON',
                    help='join finished runs (disjoint graphs or seeds) into --out')
    ap.add_argument('--smoke', action='store_true',
                    help='two epochs for teacher and students: try the script, not a result')
    args = ap.parse_args(argv)
    check_stem('--out', args.out, ap.error)
    if args.merge:
        write_merged(args.out, args.merge, merge, markdown, ap.error)
        return
    try:
        check_fraction(args.check_fraction)
        variants = parse_variants(args.variant)
    except ValueError as e:
        ap.error(str(e))
    import torch
    torch.set_num_threads(args.threads)
    payload = {'variants': variants, 'check_fraction': args.check_fraction,
               'threads': args.threads,
               'commands': ['python experiments/kd_input_choice.py '
                            + ' '.join(argv if argv is not None else sys.argv[1:])],
               'conditions': [args.conditions], 'versions': versions(), 'rows': []}
    for name in args.datasets:
        for seed in args.seeds:
            payload['rows'].append(measure(name, seed, variants, args.check_fraction,
                                           args.smoke))
            write_results(args.out, payload, markdown(payload))


if __name__ == '__main__':
    main()
