"""Unsupervised knowledge distillation: a GenURL GCN teacher into a graph-free MLP student.

Per (data set, seed) the teacher (the data set's shipped GenURL config; ``params
['teacher']`` overrides its keys) is trained once per run and cached, so every method of that
seed learns from the same teacher embeddings. Setting ``params['setting']`` (default
``inductive``): 20 % of the test nodes are held out of teacher and student training and are
the probe's test nodes, embedded by the student from their features alone. Methods: the
student objectives of :mod:`genurl_pyg.distill` (``genurl``; peers ``mse``, ``cosine``,
``rkd``, ``pkt``, ``seed``), ``no-teacher`` (GenURL's objective with P from the features),
and the references ``teacher`` and ``raw`` (the features). Other ``params`` keys go to
:class:`~genurl_pyg.distill.DistillConfig`. Scored by the project's LR probe (primary).
Cost: the teacher's training once per seed, the student's O(epochs · N · (k + m) · d).
"""
from __future__ import annotations

import time
from typing import Any, Dict, List

from ..schema import CellSpec, Metric
from . import CellContext, Task, combine, versus_best

STUDENTS = ('genurl', 'mse', 'cosine', 'rkd', 'pkt', 'seed', 'no-teacher')
PEERS = ('mse', 'cosine', 'rkd', 'pkt', 'seed')
METHODS = (*STUDENTS, 'teacher', 'raw')

METRICS = (
    Metric('accuracy', 'student acc. (%)', primary=True),
    Metric('val_accuracy', 'student val. acc. (%)'),
    Metric('teacher_accuracy', 'teacher acc. (%)'),
    Metric('inference_s', 'inference s (all nodes)', higher_is_better=False,
           noise_floor=0.05, percent=False, digits=3),
)


def _teacher(data, cell: CellSpec, held, ctx: CellContext, overrides: Dict[str, Any]):
    """The seed's teacher from the run's cache, trained and cached on first use."""
    import torch
    from ...distill.run import train_teacher
    from ...utils.io import atomic_torch_save
    setting = 'inductive' if held is not None else 'transductive'
    path = ctx.cache / f'kd-teacher-{cell.dataset}-{setting}-seed{cell.seed}.pt'
    if path.is_file():
        return torch.load(path, weights_only=True)
    start = time.perf_counter()
    t_train, t_full, infer_s, _ = train_teacher(data, cell.dataset, cell.seed, held, overrides)
    record = {'train': t_train, 'full': t_full, 'inference_s': infer_s,
              'seconds': time.perf_counter() - start}
    atomic_torch_save(record, path)
    return record


def run(cell: CellSpec, ctx: CellContext) -> Dict[str, Any]:
    from ...datasets import get_spec, load_dataset
    from ...distill import DistillConfig, distill_defaults
    from ...distill.graph import distill_node_embeddings, inductive_split, observed_subgraph
    from ...evaluation import linear_probe, split_for
    params = dict(cell.params)
    setting = params.pop('setting', 'inductive')
    teacher_overrides = params.pop('teacher', {})
    if setting not in ('inductive', 'transductive'):
        raise ValueError(f"kd 'setting' must be inductive or transductive, got {setting!r}")
    data = load_dataset(cell.dataset)
    tr, va, te = split_for(data, get_spec(cell.dataset).protocol, cell.seed)
    held = inductive_split(te, 0.2, cell.seed) if setting == 'inductive' else None
    test = te if held is None else held

    def probe(h):
        return linear_probe(h, data.y, tr, va, test)
    teacher = _teacher(data, cell, held, ctx, teacher_overrides)
    teacher_acc = probe(teacher['full']).test_accuracy
    seconds, infer, extra = 0.0, 0.0, {'setting': setting}
    if cell.method == 'teacher':
        h, seconds, infer = teacher['full'], teacher['seconds'], teacher['inference_s']
    elif cell.method == 'raw':
        h = data.x.float()
    else:
        if cell.method not in STUDENTS:
            raise ValueError(f"unknown KD method {cell.method!r}; known: {', '.join(METHODS)}")
        sub = data if held is None else observed_subgraph(data, held)
        objective = 'genurl' if cell.method == 'no-teacher' else cell.method
        cfg = DistillConfig.from_dict({**params, 'objective': objective, 'seed': cell.seed},
                                      base=distill_defaults(cell.dataset))
        target = sub.x.float() if cell.method == 'no-teacher' else teacher['train']
        start = time.perf_counter()
        distiller = distill_node_embeddings(sub, target, cfg)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        h = distiller.embed(data.x)
        infer = time.perf_counter() - start
        extra['teacher_inference_s'] = teacher['inference_s']
    res = probe(h)
    return {'metrics': {'accuracy': res.test_accuracy, 'val_accuracy': res.val_accuracy,
                        'teacher_accuracy': teacher_acc, 'inference_s': infer},
            'seconds': seconds, 'n': int(data.num_nodes), 'note': '', 'extra': extra}


def targets(rows: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    verdict = combine(versus_best(rows, METRICS[0], PEERS))
    return {'genurl': verdict} if verdict else {}


TASK = Task('kd', 'Knowledge distillation (GNN teacher -> MLP student, held-out nodes)',
            METRICS, run, targets, METHODS)
