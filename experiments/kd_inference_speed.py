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
    python experiments/kd_inference_speed.py --datasets Physics --threads 1 \\
        --student h128=hidden_channels=128,out_channels=128 --out kd_inference_widths
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


def time_pair(dataset: str, repeats: int, seed: int = 0, students=()) -> dict:
    """Median seconds of the teacher on the full graph and of the student on every node and
    on ``NEW_ROWS`` feature rows, with the data set's default configs (untrained); each
    also in the dense layout (before sparse rows were read as CSR), and the student on
    rows already stored as CSR (the layout a bag-of-words pipeline keeps them in), and the
    teacher on those too. ``students``: ``(name, DistillConfig overrides)`` of other student
    architectures (e.g. narrower layers), each timed on every node as stored and at rest
    (``rows['students']``)."""
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
        s_full, s_rest = stored_and_at_rest(student, x, x_csr, repeats)
        s_new = median_seconds(lambda: embed_rows(student, new, 65536, sparse_rows=sparse),
                               repeats)
        t_rest = median_seconds(lambda: teacher.embed_graph(x_csr, data.edge_index), repeats)
        # one pass over the stored rows: what any model reading them as stored pays first
        read = median_seconds(lambda: x.sum(), repeats)
        others = [time_student(name, overrides, dataset, x, x_csr, repeats, t_full, t_rest)
                  for name, overrides in students]
        with dense_layout():
            t_dense = median_seconds(lambda: teacher.embed_graph(data.x, data.edge_index),
                                     repeats)
        s_dense = median_seconds(lambda: embed_rows(student, x, 65536), repeats)
    return {'dataset': dataset, 'nodes': int(data.num_nodes),
            'edges': int(data.edge_index.size(1)), 'features': int(data.x.size(1)),
            'feature_density': density(x),
            'teacher': repr(teacher.model).splitlines()[0], 'teacher_full_s': t_full,
            'teacher_dense_s': t_dense,
            'student': student_label(data.x.size(1), student_cfg),
            'student_parameters': sum(p.numel() for p in student.parameters()),
            'student_full_s': s_full, 'student_new_s': s_new, 'student_csr_at_rest_s': s_rest,
            'student_dense_s': s_dense, 'teacher_csr_at_rest_s': t_rest, 'read_s': read,
            'speedup_at_rest': t_rest / s_rest, 'students': others,
            'speedup': t_full / s_full,
            'speedup_new_rows': t_full / s_new, 'speedup_dense_layout': t_dense / s_dense}


def student_label(in_channels: int, cfg) -> str:
    """``'MLP 8415-512-512 (2 layers)'``: the widths build_student gives the MLP."""
    widths = [in_channels] + [cfg.hidden_channels] * (cfg.num_layers - 1) + [cfg.out_channels]
    return f"MLP {'-'.join(map(str, widths))} ({cfg.num_layers} layer" + \
        ('s)' if cfg.num_layers > 1 else ')')


def time_student(name: str, overrides: dict, dataset: str, x, x_csr, repeats: int,
                 teacher_s: float, teacher_rest_s: float) -> dict:
    """One student architecture (the graph's distillation defaults with ``overrides``),
    untrained: seconds on every node as the data set stores them (as
    ``GenURLDistiller.embed`` reads them) and on the rows stored as CSR, and the teacher's
    time over each (the same layout for both)."""
    import torch
    from genurl_pyg.distill.config import DistillConfig, distill_defaults
    from genurl_pyg.distill.students import build_student
    cfg = DistillConfig.from_dict(overrides, base=distill_defaults(dataset))
    cfg = cfg.validate().resolved(images=False)
    torch.manual_seed(0)
    student = build_student(x.size(1), cfg).eval()
    stored, rest = stored_and_at_rest(student, x, x_csr, repeats)
    return {'name': name, 'overrides': overrides,
            'student': student_label(x.size(1), cfg),
            'parameters': sum(p.numel() for p in student.parameters()),
            'stored_s': stored, 'at_rest_s': rest, 'speedup': teacher_s / stored,
            'speedup_at_rest': teacher_rest_s / rest}


def stored_and_at_rest(student, x, x_csr, repeats: int) -> tuple[float, float]:
    """Median seconds of ``student`` on every row as the data set stores them and on the
    rows stored as CSR, both through ``embed_rows`` (``GenURLDistiller.embed``'s call), so
    the default student and every other architecture are timed by the same call."""
    import torch
    from genurl_pyg.distill.students import embed_rows, reads_sparse_rows
    sparse = reads_sparse_rows(student)
    with torch.no_grad():
        stored = median_seconds(lambda: embed_rows(student, x, 65536, sparse_rows=sparse),
                                repeats)
        rest = median_seconds(lambda: embed_rows(student, x_csr, 65536, sparse_rows=sparse),
                              repeats)
    return stored, rest


def _mark(dataset: str, speedup: float) -> str:
    if dataset.lower() != 'physics':
        return ''
    return ('met' if speedup >= SPEEDUP_TARGET else '**missed**') + \
        f' (>= {SPEEDUP_TARGET:.0f}x)'


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
        mark = _mark(r['dataset'], r['speedup'])
        lines.append(
            f"| {r['dataset']} | {r['nodes']:,} | {r['edges']:,} | {r['features']:,} "
            f"({100 * r['feature_density']:.2f} %) | {r['teacher_full_s']:.3f} | "
            f"{r['student_full_s']:.3f} | {r['student_new_s']:.3f} | "
            f"{r['student_csr_at_rest_s']:.3f} | {r['speedup']:.1f}x | "
            f"{r['speedup_new_rows']:.1f}x | {r['teacher_dense_s']:.3f} / "
            f"{r['student_dense_s']:.3f} ({r['speedup_dense_layout']:.1f}x) | {mark} |")
    if any(r.get('students') for r in rows):
        lines += ['', '**Student architectures** (untrained; the same teacher): every node '
                  'as stored (dense rows, read as CSR by the first Linear) and **both at '
                  'rest as CSR** (teacher and student reading the rows stored as CSR; the '
                  'teacher at rest: ' + ', '.join(
                      f"{r['dataset']} {r['teacher_csr_at_rest_s']:.3f} s" for r in rows)
                  + '; one pass over the stored dense rows, `x.sum()`, the floor of any '
                  'model reading them as stored: ' + ', '.join(
                      f"{r['dataset']} {r['read_s']:.3f} s" for r in rows)
                  + '). The default student first.', '',
                  '| data set | student | parameters | as stored (s) | at rest (s) | speed-up '
                  'as stored | speed-up at rest | target (as stored / at rest) |',
                  '|---|---|---|---|---|---|---|---|']
        for r in rows:
            default = {'name': 'default', 'student': r['student'],
                       'parameters': r.get('student_parameters', 0),
                       'stored_s': r['student_full_s'], 'at_rest_s': r['student_csr_at_rest_s'],
                       'speedup': r['speedup'], 'speedup_at_rest': r['speedup_at_rest']}
            for st in [default] + r['students']:
                marks = (f"{_mark(r['dataset'], st['speedup'])} / "
                         f"{_mark(r['dataset'], st['speedup_at_rest'])}"
                         if r['dataset'].lower() == 'physics' else '')
                lines.append(
                    f"| {r['dataset']} | {st['name']}: {st['student']} | "
                    f"{st['parameters']:,} | {st['stored_s']:.3f} | {st['at_rest_s']:.3f} | "
                    f"{st['speedup']:.1f}x | {st['speedup_at_rest']:.1f}x | {marks} |")
    return '\n'.join(lines) + '\n'


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--datasets', nargs='+', default=['Physics'])
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', default='kd_inference_speed')
    p.add_argument('--student', action='append', default=[], metavar='NAME=K=V,...',
                   help='another student architecture to time (DistillConfig overrides, '
                        'e.g. h128=hidden_channels=128,out_channels=128); repeatable')
    args = p.parse_args(argv)
    from kd_inductive_variants import parse_variants
    try:
        students = parse_variants(args.student) if args.student else []
    except ValueError as err:
        p.error(str(err))
    if args.repeats < 1:
        p.error(f'--repeats must be >= 1, got {args.repeats}')
    check_stem('--out', args.out, p.error)
    import torch
    torch.set_num_threads(args.threads)
    command = 'python experiments/kd_inference_speed.py ' + ' '.join(argv or sys.argv[1:])
    rows = []
    for name in args.datasets:
        rows.append(time_pair(name, args.repeats, students=students))
        print(rows[-1], flush=True)
    write_results(args.out, {'command': command, 'threads': args.threads,
                             'versions': versions(), 'rows': rows},
                  table(rows, command, args.threads))


if __name__ == '__main__':
    main()
