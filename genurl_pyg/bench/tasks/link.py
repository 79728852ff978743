"""Link prediction from frozen node embeddings.

Per cell: the held-out edges (an OGB data set's official split; otherwise PyG's
``RandomLinkSplit`` under the cell's seed, 5 % validation and 10 % test edges with as many
sampled non-edges, the training graph free of held-out edges by construction and by check),
the method embeds the **training graph only**, then the probes of
:mod:`genurl_pyg.evaluation.link`: the Hadamard MLP (trained on the training edges, epoch
chosen on the validation edges; 50 epochs of batches of 1,024 edges, ``probe_epochs`` /
``probe_batch``) scored by AUC (primary) and Hits@20 at the same epoch, and the
parameter-free dot product scored by AUC. Cost: the method's training plus O(epochs · E · d²) for the MLP.

A peer whose training stops at the cell's deadline stops early enough for the probe: the
cell measures the probe's time on this machine before training (a few of its steps on
random inputs) and moves the deadline by that reserve (``scoring_reserve``); on Photo the
probe takes about two minutes on one thread, which the budget's fixed 20 % share did not
leave GraphMAE (three of five cells killed, issue 18).

A cell with ``probe: ogb`` uses OGB's ddi link predictor instead
(:data:`~genurl_pyg.evaluation.link.OGB_DDI_PROBE`: 3 layers of 256, dropout 0.5, lr 0.01,
batches of 65,536, negatives off the graph; ``probe_epochs`` may shorten its 200 epochs),
with its epoch chosen on validation **Hits@20**, the metric OGB ranks ogbl-ddi by; the AUC
is read at that epoch. Session 26 measured why: on ogbl-ddi the short probe read 5.6 %
validation Hits@20 from node2vec's embedding where OGB's predictor reads 14.3 % from the
same embedding (``experiments/results/featureless_ddi_probe.md``).
"""
from __future__ import annotations

import time
from typing import Any, Dict, List

from ..peers import PEERS
from ..schema import CellSpec, Metric
from . import CellContext, Task, combine, mean_of, versus_best
from .graph_methods import NODE_METHODS, embed_nodes

NODE2VEC_OGB_DDI = 0.2326  # OGB leaderboard, node2vec on ogbl-ddi, test Hits@20 (issue 18)

# The scoring reserve (``scoring_reserve``). The width is the widest embedding the zoo's
# budget-cut peers return (GraphMAE's and DGI's 512): the probe's first layer costs d · 256.
# The safety factor covers a machine whose load changes between the measurement and the
# probe; the fixed seconds cover the final embedding pass, the dot-product probe and the
# interpreter's start, which the runner counts and the cell's clock does not.
RESERVE_WIDTH = 512
RESERVE_SAFETY = 1.3
RESERVE_FIXED_S = 30.0

METRICS = (
    Metric('auc', 'AUC, MLP probe (%)', primary=True, noise_floor=0.005),
    Metric('auc_dot', 'AUC, dot product (%)', noise_floor=0.005),
    Metric('hits@20', 'Hits@20, MLP probe (%)'),
)


def split_edges(data, seed: int):
    """``(LinkSplit, protocol)``: the data set's official split when it has one, else
    ``random_link_split`` under ``seed``."""
    from ...evaluation.link import LinkSplit, random_link_split
    if 'link_train_pos' in data:  # the official split; the graph holds training edges only
        return LinkSplit(data, data.link_train_pos, data.link_val_pos, data.link_val_neg,
                         data.link_test_pos, data.link_test_neg), 'official'
    return random_link_split(data, 0.05, 0.1, seed), 'random 85/5/10'


def run(cell: CellSpec, ctx: CellContext) -> Dict[str, Any]:
    from ...datasets import load_dataset
    from ...evaluation.link import auc_score, hits_metric, link_probe, probe_kwargs
    data = load_dataset(cell.dataset)
    split, protocol = split_edges(data, cell.seed)
    params = dict(cell.params)
    probe = params.pop('probe', 'default')
    kw = probe_kwargs(probe, dict(epochs=50, batch_size=1024), params.pop('probe_epochs', None),
                      params.pop('probe_batch', None), what="link cell 'probe'")
    pairs = (split.train_pos, split.val_pos, split.val_neg, split.test_pos, split.test_neg)
    reserve = scoring_reserve(data.num_nodes, pairs, kw)
    start = time.perf_counter()
    h, note, _ = embed_nodes(cell.method, split.train_data, cell.dataset, cell.seed, params,
                             ctx.deadline_before(reserve))
    seconds = time.perf_counter() - start

    hits20 = hits_metric(20)
    if probe == 'ogb':  # OGB's predictor, its epoch chosen by validation Hits@20
        select, other, other_fn = hits20, 'auc', auc_score
    else:
        select, other, other_fn = auc_score, 'hits@20', hits20
    mlp = link_probe(h, *pairs, metric=select, predictor='mlp', seed=cell.seed,
                     also={other: other_fn}, **kw)
    scores = {select.metric_name: mlp.test, other: mlp.also[other]}
    val = {select.metric_name: mlp.val, other: mlp.also_val[other]}
    dot = link_probe(h, *pairs, metric=auc_score, predictor='dot')
    return {'metrics': {'auc': scores['auc'], 'auc_dot': dot.test,
                        'hits@20': scores['hits@20']},
            'seconds': seconds, 'n': int(data.num_nodes), 'note': note,
            'extra': {'protocol': protocol, 'probe': probe, 'probe_epochs': kw['epochs'],
                      'probe_selects_on': select.metric_name, 'val_auc': val['auc'],
                      'val_hits@20': val['hits@20'], 'probe_epoch': mlp.epoch,
                      'test_edges': int(split.test_pos.size(0)),
                      'scoring_reserve_s': reserve,
                      'scoring_s': time.perf_counter() - start - seconds}}


def scoring_reserve(num_nodes: int, pairs, probe: Dict[str, Any]) -> float:
    """Seconds a budget-cut training must leave the cell after it stops: the MLP probe's
    measured time (:func:`~genurl_pyg.evaluation.link.link_probe_seconds`, at
    :data:`RESERVE_WIDTH`) times :data:`RESERVE_SAFETY`, plus :data:`RESERVE_FIXED_S`."""
    from ...evaluation.link import link_probe_seconds
    train_pos, val_pos, val_neg, test_pos, test_neg = pairs
    scored = sum(int(p.size(0)) for p in (val_pos, val_neg, test_pos, test_neg))
    probe_s = link_probe_seconds(num_nodes, int(train_pos.size(0)), scored, RESERVE_WIDTH,
                                 **probe)
    return RESERVE_SAFETY * probe_s + RESERVE_FIXED_S


def targets(rows: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    dataset = rows[0]['dataset'] if rows else ''
    verdicts = [versus_best(rows, METRICS[0], PEERS)]
    hits = mean_of(rows, 'genurl', 'hits@20')
    if dataset == 'ogbl-ddi' and hits is not None:
        verdicts.append({'text': f'hits@20 >= {100 * NODE2VEC_OGB_DDI:.1f} (node2vec, OGB)',
                         'met': hits >= NODE2VEC_OGB_DDI})
    verdict = combine(*verdicts)
    return {'genurl': verdict} if verdict else {}


TASK = Task('link', 'Link prediction (frozen embeddings, held-out edges)', METRICS, run,
            targets, NODE_METHODS)
