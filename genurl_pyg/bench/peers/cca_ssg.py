r"""CCA-SSG (Zhang et al., NeurIPS 2021, "From Canonical Correlation Analysis to
Self-supervised Graph Neural Networks").

Two views (feature-column masking ``dfr``, edge dropping ``der``) through a shared GCN
(``n_layers`` GraphConv layers, ReLU between them, none after the last; an MLP on CS as the
authors ran it); each view's output is standardised per dimension over the nodes,
:math:`\tilde z = (z - \mu)/\sigma`, and

.. math::
    \mathcal L = -\tfrac1N\operatorname{tr}(\tilde z_1^\top\tilde z_2)
        + \lambda\big(\lVert\tfrac1N\tilde z_1^\top\tilde z_1 - I\rVert_F^2
                     + \lVert\tfrac1N\tilde z_2^\top\tilde z_2 - I\rVert_F^2\big).

Adam (lr 1e-3, no weight decay), hidden = out = 512; the embedding is the encoder's output
on the unaugmented graph. Hyper-parameters per data set from the authors' README; DBLP was
not in the paper and gets Cora's. Citation sets use row-normalised features (the DGL
loaders the authors used), the others raw features.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
from torch import Tensor

from ._common import GCNStack, csr_adjacency, features, out_of_time, seeded, view

NAME = 'CCA-SSG'
SOURCE = 'authors\' README (github.com/hengruizhang98/CCA-SSG); DBLP: Cora\'s settings'
_BASE = dict(hidden=512, out=512, lr=1e-3, weight_decay=0.0, mlp=False)
PARAMS: Dict[str, Dict] = {
    'Cora': dict(_BASE, epochs=50, n_layers=2, lambd=1e-3, dfr=0.1, der=0.4, row_normalize=True),
    'CiteSeer': dict(_BASE, epochs=20, n_layers=1, lambd=5e-4, dfr=0.0, der=0.4,
                     row_normalize=True),
    'Computers': dict(_BASE, epochs=50, n_layers=2, lambd=5e-4, dfr=0.1, der=0.3,
                      row_normalize=False),
    'Photo': dict(_BASE, epochs=50, n_layers=2, lambd=1e-3, dfr=0.2, der=0.3,
                  row_normalize=False),
    'CS': dict(_BASE, epochs=50, n_layers=2, lambd=1e-3, dfr=0.2, der=0.2, mlp=True,
               row_normalize=False),
    'Physics': dict(_BASE, epochs=100, n_layers=2, lambd=1e-3, dfr=0.5, der=0.5,
                    row_normalize=False),
}
PARAMS['default'] = dict(PARAMS['Cora'])
PARAMS['DBLP'] = dict(PARAMS['Cora'])


class _MLP(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.lins = torch.nn.ModuleList(torch.nn.Linear(a, b)
                                        for a, b in zip(channels[:-1], channels[1:]))

    def forward(self, x, adj_t=None):
        for i, lin in enumerate(self.lins):
            x = lin(x)
            if i < len(self.lins) - 1:
                x = torch.relu(x)
        return x


def cca_loss(h1: Tensor, h2: Tensor, lambd: float) -> Tensor:
    n = h1.size(0)
    z1 = (h1 - h1.mean(0)) / h1.std(0)
    z2 = (h2 - h2.mean(0)) / h2.std(0)
    eye = torch.eye(z1.size(1))
    invariance = -torch.trace(z1.t() @ z2) / n
    decorrelation = ((z1.t() @ z1 / n - eye).pow(2).sum()
                     + (z2.t() @ z2 / n - eye).pow(2).sum())
    return invariance + lambd * decorrelation


def embed(data, params: Dict, seed: int, deadline: Optional[float] = None) -> Tensor:
    gen = seeded(seed)
    x = features(data, params['row_normalize'])
    n = data.num_nodes
    channels = [data.num_features] + [params['hidden']] * (params['n_layers'] - 1) \
        + [params['out']]
    if params['mlp']:
        if x.layout == torch.sparse_csr:
            x = x.to_dense()
        encoder = _MLP(channels)
    else:
        encoder = GCNStack(channels, act='relu', last_act=False)
    opt = torch.optim.Adam(encoder.parameters(), lr=params['lr'],
                           weight_decay=params['weight_decay'])
    for _ in range(params['epochs']):
        if out_of_time(deadline):
            break
        encoder.train()
        opt.zero_grad()
        views = [view(x, data.edge_index, params['dfr'], params['der'], n, gen)
                 for _ in range(2)]
        h1, h2 = (encoder(xv, av) for xv, av in views)
        cca_loss(h1, h2, params['lambd']).backward()
        opt.step()
    encoder.eval()
    with torch.no_grad():
        return encoder(x, csr_adjacency(data.edge_index, n))
