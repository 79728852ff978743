"""Node classification: frozen embeddings scored by the project's two linear probes.

Per cell: embed the graph (:mod:`.graph_methods`), split by the data set's protocol (public
Planetoid split; random 10/10/80 per seed elsewhere), then the LR probe (logistic regression
on standardised embeddings, ``C`` chosen on the validation nodes: the primary metric) and
the Adam probe (a linear layer, test accuracy at the best validation epoch). Cost: the
method's training plus O(N·d) probes.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List

from ..schema import CellSpec, Metric
from . import CellContext, Task, combine, mean_of, versus_best
from .graph_methods import NODE_METHODS, embed_nodes
from ..peers import PEERS

# Absolute targets of issue 10 (the best published self-supervised numbers we track).
TARGETS = {'Cora': 0.845, 'CiteSeer': 0.743, 'Computers': 0.910, 'Photo': 0.951, 'CS': 0.936}

METRICS = (
    Metric('accuracy', 'LR probe acc. (%)', primary=True),
    Metric('adam_accuracy', 'Adam probe acc. (%)'),
    Metric('val_accuracy', 'LR probe val. acc. (%)'),
)


def run(cell: CellSpec, ctx: CellContext) -> Dict[str, Any]:
    from ...datasets import get_spec, load_dataset
    from ...evaluation import adam_linear_probe, linear_probe, split_for
    data = load_dataset(cell.dataset)
    spec = get_spec(cell.dataset)
    params = dict(cell.params)  # the cell's record keeps its params
    adam_epochs = params.pop('adam_epochs', None)
    start = time.perf_counter()
    h, note, _ = embed_nodes(cell.method, data, cell.dataset, cell.seed, params,
                                  ctx.deadline)
    seconds = time.perf_counter() - start
    masks = split_for(data, spec.protocol, cell.seed)
    lr = linear_probe(h, data.y, *masks)
    adam_kw = {} if adam_epochs is None else {'epochs': adam_epochs}
    adam = adam_linear_probe(h, data.y, *masks, seed=cell.seed, **adam_kw)
    return {'metrics': {'accuracy': lr.test_accuracy, 'adam_accuracy': adam.test_accuracy,
                        'val_accuracy': lr.val_accuracy},
            'seconds': seconds, 'n': int(data.num_nodes), 'note': note,
            'extra': {'protocol': spec.protocol, 'dim': int(h.size(1))}}


def targets(rows: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    primary = METRICS[0]
    dataset = rows[0]['dataset'] if rows else ''
    absolute = None
    mine = mean_of(rows, 'genurl', primary.name)
    if dataset in TARGETS and mine is not None:
        absolute = {'text': f'accuracy >= {100 * TARGETS[dataset]:.1f}',
                    'met': mine >= TARGETS[dataset]}
    verdict = combine(versus_best(rows, primary, PEERS), absolute)
    return {'genurl': verdict} if verdict else {}


TASK = Task('node', 'Node classification (frozen embeddings, linear probes)', METRICS, run,
            targets, NODE_METHODS)
