"""How much of the teacher's neighbourhoods a node's own features determine: a label-free
reading, per graph, for choosing distillation's ``input_weight`` (issue 15).

Session 41 found that on Computers P from the student's own input (``input_weight`` 1.0)
beats the teacher's neighbourhoods on held-out validation nodes by +4.8 points, and session
42 that on Photo it does not (-0.35 +- 0.83): the teacher's P is the right target there, as
on Cora and CiteSeer. A rule that picks the weight without labels must read something that
separates Computers from the other three. This script measures two candidates on the
*observed* nodes of the inductive protocol (what a student sees; no label read):

* **kNN overlap**: the mean share of a node's k nearest neighbours in the teacher's
  embedding (trained on the observed subgraph) that are also among its k nearest in the
  input features, with the distillation defaults' k and metric (P's own kNN settings);
  chance level k / (n - 1) beside it;
* **agreement**: :func:`genurl_pyg.structure.trust.graph_feature_agreement` of the input
  features with the teacher's kNN graph as the edges (2 AUC - 1 of feature distances across
  the teacher's kNN pairs against random pairs: the node task's ``lam: auto`` statistic).

Cost per graph and seed: one teacher training (the data set's default GenURL run on the
observed subgraph) and two kNN searches. Writes ``experiments/results/<out>.{json,md}``.

Usage::

    python experiments/kd_neighbour_agreement.py --datasets Cora CiteSeer Photo Computers \\
        --seeds 0 --threads 1 --out kd_neighbour_agreement
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import check_stem, versions, write_results  # noqa: E402


def knn_overlap(a, b) -> float:
    """Mean over rows of |N_a(i) & N_b(i)| / k for two ``[n, k]`` neighbour tables."""
    import torch
    k = a.size(1)
    hits = (a.unsqueeze(2) == b.unsqueeze(1)).any(2).sum(1)
    return float(hits.to(torch.float64).mean()) / k


def measure(dataset: str, seed: int) -> dict:
    import torch
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.distill.config import DistillConfig
    from genurl_pyg.distill.graph import held_out_validation, observed_subgraph
    from genurl_pyg.distill.run import train_teacher
    from genurl_pyg.evaluation import split_for
    from genurl_pyg.structure.knn import knn_graph
    from genurl_pyg.structure.trust import graph_feature_agreement
    data = load_dataset(dataset)
    _, va, te = split_for(data, get_spec(dataset).protocol, seed)
    held, _, _ = held_out_validation(va, te, seed)
    t0 = time.perf_counter()
    t_train, _, _, _ = train_teacher(data, dataset, seed, held)
    teacher_s = time.perf_counter() - t0
    x = observed_subgraph(data, held).x.float()
    cfg = DistillConfig().validate().resolved(images=False)
    k, metric = cfg.k, cfg.metric
    nn_t, _ = knn_graph(t_train.float(), k, metric)
    nn_x, _ = knn_graph(x, k, metric)
    n = x.size(0)
    rows = torch.arange(n).repeat_interleave(k)
    teacher_edges = torch.stack([rows, nn_t.reshape(-1)])
    return {'dataset': dataset, 'seed': seed, 'observed_nodes': n, 'k': k, 'metric': metric,
            'knn_overlap': knn_overlap(nn_t, nn_x), 'chance': k / (n - 1),
            'agreement': graph_feature_agreement(x, teacher_edges, metric, seed=seed),
            'teacher_s': teacher_s}


def table(rows, command: str) -> str:
    lines = ['# Distillation: how much of the teacher\'s neighbourhoods the input features '
             'determine (issue 15)', '', f'Command: `{command}`  ',
             'Observed nodes of the inductive protocol (held-out validation protocol of '
             '`kd_inductive_variants.py`); teacher = the data set\'s default GenURL run on '
             'the observed subgraph; k and metric = the distillation defaults\' (P\'s kNN). '
             'No label is read.', '',
             '| data set | seed | observed nodes | k | kNN overlap | chance | agreement |',
             '|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['seed']} | {r['observed_nodes']:,} | {r['k']} | "
                     f"{r['knn_overlap']:.3f} | {r['chance']:.4f} | {r['agreement']:.3f} |")
    return '\n'.join(lines) + '\n'


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--datasets', nargs='+', default=['Cora', 'CiteSeer', 'Photo', 'Computers'])
    p.add_argument('--seeds', nargs='+', type=int, default=[0])
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', default='kd_neighbour_agreement')
    args = p.parse_args(argv)
    check_stem('--out', args.out, p.error)
    import torch
    torch.set_num_threads(args.threads)
    command = 'python experiments/kd_neighbour_agreement.py ' + ' '.join(argv or sys.argv[1:])
    rows = []
    for name in args.datasets:
        for seed in args.seeds:
            rows.append(measure(name, seed))
            print(rows[-1], flush=True)
            write_results(args.out, {'command': command, 'threads': args.threads,
                                     'versions': versions(), 'rows': rows},
                          table(rows, command))


if __name__ == '__main__':
    main()
