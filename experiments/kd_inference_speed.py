"""Inference cost of a graph's distillation pair (issue 15's target: the graph-free student
at least 10x faster than its GCN teacher on Physics): the teacher is the data set's default
GenURL encoder applied to the full graph (``NodeEmbeddingTrainer.embed_graph``: input
preprocessing, smoothing and message passing, the call ``kd_benchmark.py`` times), the
student the data set's default distillation MLP on the node features
(``GenURLDistiller.embed``'s ``embed_rows``), on every node and on 10,000 rows drawn from
the features (new nodes).

The weights are left at their initialisation: inference time depends on the architecture
and the inputs, not on the values of the weights, so the teacher's 80 and the student's 100
training epochs (hours on Physics on this CPU) are not needed to time them. The same
calls on the same graph's trained models are timed by ``kd_benchmark.py``; run this script
on a graph that has benchmark rows (``--datasets Cora Photo Physics``) to compare the two.

Each time is the median of ``--repeats`` calls after two warm-up calls, one process, the
thread count of ``--threads``. Writes ``experiments/results/<out>.{json,md}``.

Usage::

    python experiments/kd_inference_speed.py --datasets Photo Physics --threads 1 \\
        --out kd_inference_speed
"""
from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import check_stem, median_seconds, versions, write_results  # noqa: E402

NEW_ROWS = 10_000
#: The target: the student at least this many times faster than the teacher on Physics.
SPEEDUP_TARGET = 10.0


@contextmanager
def dense_layout():
    """Every input stays dense inside the block (the sparse-row threshold set to 0): the
    layout before session 42, timed in the same run for the before/after."""
    from genurl_pyg.node import inputs
    saved = inputs.SPARSE_INPUT_DENSITY
    inputs.SPARSE_INPUT_DENSITY = 0.0
    try:
        yield
    finally:
        inputs.SPARSE_INPUT_DENSITY = saved


def time_pair(dataset: str, repeats: int, seed: int = 0) -> dict:
    """Median seconds of the teacher on the full graph and of the student on every node and
    on ``NEW_ROWS`` feature rows, with the data set's default configs (untrained); each
    also in the dense layout (before sparse rows were read as CSR), and the student on
    rows already stored as CSR (the layout a bag-of-words pipeline keeps them in)."""
    import torch
    from genurl_pyg.datasets import load_dataset
    from genurl_pyg.distill.config import distill_defaults
    from genurl_pyg.distill.students import build_student, embed_rows, reads_sparse_rows
    from genurl_pyg.node.config import NodeConfig, dataset_defaults
    from genurl_pyg.node.inputs import csr_if_sparse, density
    from genurl_pyg.node.trainer import NodeEmbeddingTrainer
    data = load_dataset(dataset)
    torch.manual_seed(seed)
    teacher = NodeEmbeddingTrainer(data, NodeConfig.from_dict({'seed': seed},
                                                              base=dataset_defaults(dataset)))
    student_cfg = distill_defaults(dataset).validate().resolved(images=False)
    student = build_student(data.x.size(1), student_cfg).eval()
    sparse = reads_sparse_rows(student)  # what GenURLDistiller.embed passes
    x = data.x.float()
    new = x[torch.randint(0, data.num_nodes, (NEW_ROWS,),
                          generator=torch.Generator().manual_seed(seed))]
    x_csr = csr_if_sparse(x)  # at rest as CSR where sparse (else the dense rows)
    with torch.no_grad():
        t_full = median_seconds(lambda: teacher.embed_graph(data.x, data.edge_index), repeats)
        s_full = median_seconds(lambda: embed_rows(student, x, 65536, sparse_rows=sparse),
                                repeats)
        s_new = median_seconds(lambda: embed_rows(student, new, 65536, sparse_rows=sparse),
                               repeats)
        s_rest = median_seconds(lambda: student(x_csr), repeats)
        with dense_layout():
            t_dense = median_seconds(lambda: teacher.embed_graph(data.x, data.edge_index),
                                     repeats)
        s_dense = median_seconds(lambda: embed_rows(student, x, 65536), repeats)
    return {'dataset': dataset, 'nodes': int(data.num_nodes),
            'edges': int(data.edge_index.size(1)), 'features': int(data.x.size(1)),
            'feature_density': density(x),
            'teacher': repr(teacher.model).splitlines()[0], 'teacher_full_s': t_full,
            'teacher_dense_s': t_dense,
            'student': f'MLP {data.x.size(1)}-{student_cfg.hidden_channels}-'
                       f'{student_cfg.out_channels} ({student_cfg.num_layers} layers)',
            'student_full_s': s_full, 'student_new_s': s_new, 'student_csr_at_rest_s': s_rest,
            'student_dense_s': s_dense, 'speedup': t_full / s_full,
            'speedup_new_rows': t_full / s_new, 'speedup_dense_layout': t_dense / s_dense}


def table(rows, command: str, threads: int) -> str:
    lines = ['# Distillation: inference time of the GCN teacher and the graph-free student', '',
             f'Command: `{command}`  ',
             f'Threads: {threads}; each time the median of repeated calls after two warm-ups; '
             'untrained weights (the cost depends on the architecture, not the weights). '
             'Inputs as the data set stores them (dense tensors); sparse rows are read as '
             'CSR by both models\' first Linear (conversion timed), the **dense layout** '
             'columns time the same calls with every input dense (before session 42); '
             '**CSR at rest**: the student on rows already stored as CSR. Speed-up = '
             'teacher on the full graph / student on every node (the target); **new rows**: '
             'teacher on the full graph / student on 10k rows (a GCN embeds new nodes by '
             'running over the graph that holds them).', '',
             '| data set | nodes | edges | features (non-zero) | teacher, full graph (s) | '
             'student, every node (s) | student, 10k new rows (s) | student, CSR at rest (s) '
             '| speed-up | new rows | dense layout: teacher / student (s) | target |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        mark = ''
        if r['dataset'].lower() == 'physics':
            mark = ('met' if r['speedup'] >= SPEEDUP_TARGET else '**missed**') + \
                f' (>= {SPEEDUP_TARGET:.0f}x)'
        lines.append(
            f"| {r['dataset']} | {r['nodes']:,} | {r['edges']:,} | {r['features']:,} "
            f"({100 * r['feature_density']:.2f} %) | {r['teacher_full_s']:.3f} | "
            f"{r['student_full_s']:.3f} | {r['student_new_s']:.3f} | "
            f"{r['student_csr_at_rest_s']:.3f} | {r['speedup']:.1f}x | "
            f"{r['speedup_new_rows']:.1f}x | {r['teacher_dense_s']:.3f} / "
            f"{r['student_dense_s']:.3f} ({r['speedup_dense_layout']:.1f}x) | {mark} |")
    return '\n'.join(lines) + '\n'


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--datasets', nargs='+', default=['Physics'])
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', default='kd_inference_speed')
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f'--repeats must be >= 1, got {args.repeats}')
    check_stem('--out', args.out, p.error)
    import torch
    torch.set_num_threads(args.threads)
    command = 'python experiments/kd_inference_speed.py ' + ' '.join(argv or sys.argv[1:])
    rows = []
    for name in args.datasets:
        rows.append(time_pair(name, args.repeats))
        print(rows[-1], flush=True)
    write_results(args.out, {'command': command, 'threads': args.threads,
                             'versions': versions(), 'rows': rows},
                  table(rows, command, args.threads))


if __name__ == '__main__':
    main()
