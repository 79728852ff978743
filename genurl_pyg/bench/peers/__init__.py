"""Self-supervised node-embedding peers, each written from its paper with the paper's (or its
authors' published) hyper-parameters per data set, all returning frozen ``[N, d]``
embeddings that the node benchmark scores with the project's probes.

Each module exposes ``NAME``, ``PARAMS`` (data set -> hyper-parameters, with ``'default'``
for data sets the paper did not report, stated in ``SOURCE``) and
``embed(data, params, seed, deadline=None) -> Tensor``. ``deadline`` (a
``time.perf_counter()`` value) stops training early; the benchmark records when it did.
"""
from __future__ import annotations

from importlib import import_module
from typing import Dict

PEERS = ('dgi', 'cca_ssg', 'grace', 'bgrl', 'graphmae', 'node2vec')
# Peers that read no node features (they run on featureless graphs).
FEATURELESS_PEERS = ('node2vec',)


def get_peer(name: str):
    if name not in PEERS:
        raise ValueError(f'unknown peer {name!r}; known: {PEERS}')
    return import_module(f'{__name__}.{name}')


def params_for(name: str, dataset: str) -> Dict:
    peer = get_peer(name)
    return dict(peer.PARAMS.get(dataset, peer.PARAMS['default']))
