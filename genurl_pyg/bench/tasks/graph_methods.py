"""Frozen node embeddings by name, shared by the node and link tasks.

``raw``: the features; ``sgc``: :math:`\\hat A^2 X` (SGC's smoothing, nothing trained);
``genurl``: :class:`~genurl_pyg.node.NodeEmbeddingTrainer` with the data set's shipped config
(``params`` override its keys); ``untrained``: the same trainer's encoder as initialised (the
seed's weights, no step), the baseline that says what GenURL's training adds (on Photo and
Computers: about nothing, ``node_study.md`` section 33); ``genurl-featureless``: the same without ``x`` (one learnable
vector per node, P from the graph alone: what GenURL does on a graph that has no features); the self-supervised peers of :mod:`genurl_pyg.bench.peers`
with their papers' hyper-parameters (``params`` override them, e.g. ``epochs`` in a smoke
preset). Every method sees only the ``data`` it is given: the link task passes the graph of
the training edges.
"""
from __future__ import annotations

import time
from typing import Any, Dict, Tuple

from torch import Tensor

from ..peers import FEATURELESS_PEERS, PEERS, get_peer, params_for

BASELINES = ('raw', 'sgc', 'untrained')
NODE_METHODS = (*BASELINES, *PEERS, 'genurl', 'genurl-featureless')


def embed_nodes(method: str, data, dataset: str, seed: int, params: Dict[str, Any],
                deadline: float) -> Tuple[Tensor, str, Dict[str, Any]]:
    """Returns (embeddings ``[N, d]``, a note, the hyper-parameters used)."""
    if method not in NODE_METHODS:
        raise ValueError(f"unknown node-embedding method {method!r}; known: "
                         f"{', '.join(NODE_METHODS)}")
    if getattr(data, 'x', None) is None and method not in ('genurl', 'genurl-featureless',
                                                            *FEATURELESS_PEERS):
        raise ValueError(f'{dataset} has no node features: {method!r} needs them')
    if method == 'raw':
        return data.x.float(), '', {}
    if method == 'sgc':
        from ...node.propagation import smooth_features
        hops = int(params.get('hops', 2))
        return smooth_features(data.x.float(), data.edge_index, hops), '', {'hops': hops}
    if method in ('genurl', 'genurl-featureless', 'untrained'):
        from ...node.config import NodeConfig, dataset_defaults
        if method == 'genurl-featureless':
            data = data.clone()
            data.x = None
            base = NodeConfig()  # the shipped configs were tuned with features
        else:
            base = dataset_defaults(dataset)
        h, cfg = genurl_embedding(data, NodeConfig.from_dict(params, base=base), seed,
                                  trained=method != 'untrained')
        return h, '', cfg.to_dict()
    config = {**params_for(method, dataset), **params}
    h = get_peer(method).embed(data, config, seed, deadline)
    note = 'training cut at the cell budget' if time.perf_counter() > deadline else ''
    return h, note, config


def genurl_embedding(data, cfg, seed: int, trained: bool = True):
    """``(h, the trainer's resolved config)`` of GenURL's trainer with ``cfg`` at ``seed``:
    trained (``fit``), or the encoder as initialised (``trained=False``: the same set-up as
    ``fit`` would start, so the same initial weights as that seed's trained embedding, and
    ``embed`` at once; the baseline that pairs with it by seed)."""
    from ...node.trainer import NodeEmbeddingTrainer
    trainer = NodeEmbeddingTrainer(data, cfg.__class__.from_dict({'seed': seed}, base=cfg))
    return (trainer.fit() if trained else trainer.embed()), trainer.cfg
