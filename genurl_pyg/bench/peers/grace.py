r"""GRACE (Zhu et al., 2020, "Deep Graph Contrastive Representation Learning").

Two views with their own edge-dropping and feature-masking rates; a GCN encoder
(``num_layers`` GCNConv layers, ``2·hidden`` wide inside, the activation after every layer);
a projection head (Linear, ELU, Linear); the symmetric node-level InfoNCE with cosine
similarity and temperature τ over intra- and inter-view negatives:

.. math::
    \ell(u_i, v_i) = -\log\frac{e^{\theta(u_i,v_i)/\tau}}{e^{\theta(u_i,v_i)/\tau}
        + \sum_{k\ne i} e^{\theta(u_i,v_k)/\tau} + \sum_{k\ne i} e^{\theta(u_i,u_k)/\tau}}.

Cost per epoch O(N² d) (all pairs); the loss is computed in row blocks so memory stays
O(B N). Settings: the authors' ``config.yaml`` (Cora, CiteSeer, DBLP) and, for Amazon and
Coauthor, the GCA paper's published files with its uniform (= GRACE) drop scheme; features
row-normalised (PyG's ``NormalizeFeatures``, as the authors' loader).
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import GCNStack, csr_adjacency, features, out_of_time, seeded, view

NAME = 'GRACE'
SOURCE = ('authors\' config.yaml (github.com/CRIPAC-DIG/GRACE) for Cora, CiteSeer, DBLP; '
          'GCA\'s param/*.json (uniform drop = GRACE) for Computers, Photo, CS; '
          'weight decay 1e-5 throughout')
PARAMS: Dict[str, Dict] = {
    'Cora': dict(lr=5e-4, hidden=128, proj=128, act='relu', num_layers=2, de=(0.2, 0.4),
                 df=(0.3, 0.4), tau=0.4, epochs=200),
    'CiteSeer': dict(lr=1e-3, hidden=256, proj=256, act='prelu', num_layers=2, de=(0.2, 0.0),
                     df=(0.3, 0.2), tau=0.9, epochs=200),
    'DBLP': dict(lr=1e-3, hidden=256, proj=256, act='relu', num_layers=2, de=(0.1, 0.4),
                 df=(0.1, 0.0), tau=0.7, epochs=1000),
    'Computers': dict(lr=1e-2, hidden=128, proj=128, act='rrelu', num_layers=2, de=(0.6, 0.3),
                      df=(0.2, 0.3), tau=0.2, epochs=2000),
    'Photo': dict(lr=1e-1, hidden=256, proj=64, act='relu', num_layers=2, de=(0.3, 0.5),
                  df=(0.1, 0.1), tau=0.3, epochs=2000),
    'CS': dict(lr=5e-4, hidden=256, proj=256, act='rrelu', num_layers=2, de=(0.3, 0.2),
               df=(0.3, 0.4), tau=0.4, epochs=1000),
}
for _p in PARAMS.values():
    _p.update(weight_decay=1e-5, row_normalize=True)
PARAMS['default'] = dict(PARAMS['Cora'])
LOSS_BLOCK = 4096


def _half_loss(u: Tensor, v: Tensor, tau: float) -> Tensor:
    """Per-row loss of view u against view v (both L2-normalised), in row blocks."""
    out = []
    for start in range(0, u.size(0), LOSS_BLOCK):
        ub = u[start:start + LOSS_BLOCK]
        rows = torch.arange(start, start + ub.size(0))
        refl = torch.exp(ub @ u.t() / tau)
        between = torch.exp(ub @ v.t() / tau)
        pos = between[torch.arange(ub.size(0)), rows]
        denom = refl.sum(1) + between.sum(1) - refl[torch.arange(ub.size(0)), rows]
        out.append(-torch.log(pos / denom))
    return torch.cat(out)


def grace_loss(z1: Tensor, z2: Tensor, tau: float) -> Tensor:
    u, v = F.normalize(z1), F.normalize(z2)
    return 0.5 * (_half_loss(u, v, tau) + _half_loss(v, u, tau)).mean()


def embed(data, params: Dict, seed: int, deadline: Optional[float] = None) -> Tensor:
    gen = seeded(seed)
    x = features(data, params['row_normalize'])
    n, h = data.num_nodes, params['hidden']
    channels = [data.num_features] + [2 * h] * (params['num_layers'] - 1) + [h]
    encoder = GCNStack(channels, act=params['act'], last_act=True)
    head = torch.nn.Sequential(torch.nn.Linear(h, params['proj']), torch.nn.ELU(),
                               torch.nn.Linear(params['proj'], h))
    opt = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=params['lr'],
                           weight_decay=params['weight_decay'])
    for _ in range(params['epochs']):
        if out_of_time(deadline):
            break
        encoder.train()
        opt.zero_grad()
        (x1, a1), (x2, a2) = (view(x, data.edge_index, params['df'][i], params['de'][i], n, gen)
                              for i in range(2))
        loss = grace_loss(head(encoder(x1, a1)), head(encoder(x2, a2)), params['tau'])
        loss.backward()
        opt.step()
    encoder.eval()
    with torch.no_grad():
        return encoder(x, csr_adjacency(data.edge_index, n))
