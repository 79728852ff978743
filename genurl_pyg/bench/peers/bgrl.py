r"""BGRL (Thakoor et al., ICLR 2022, "Large-Scale Representation Learning on Graphs via
Bootstrapping").

An online encoder (GCN layers, each followed by BatchNorm (momentum 0.01) and PReLU) with a
predictor (Linear, PReLU, Linear, 512 hidden) predicts, for each node, a target encoder's
representation of the other view; the target is an exponential moving average of the online
encoder with decay τ rising from 0.99 to 1 on a cosine schedule. Symmetric loss
:math:`2 - \cos(q_1, y_2) - \cos(q_2, y_1)`, no negatives, O(N d) per epoch beyond the GCN.
AdamW (weight decay 1e-5), learning rate warmed up linearly over the first tenth of the
epochs, then cosine-decayed to 0.

Settings: the paper's / DGL example's per data set (Computers, Photo, CS); Cora, CiteSeer and
DBLP were not in the paper and get its WikiCS settings. The paper trains 10,000 epochs;
``epochs`` here is what a CPU seed can afford, and the schedules (warm-up, τ) are scaled to it.
"""
from __future__ import annotations

import copy
import math
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import GCNStack, csr_adjacency, features, out_of_time, seeded, view

NAME = 'BGRL'
SOURCE = ('paper Table 5 / DGL example (Computers, Photo, CS); WikiCS settings for Cora, '
          'CiteSeer, DBLP; 10,000 paper epochs capped to `epochs` here (CPU)')
EPOCHS = 1000
PARAMS: Dict[str, Dict] = {
    'Computers': dict(layers=(256, 128), de=(0.5, 0.4), df=(0.2, 0.1), lr=5e-4),
    'Photo': dict(layers=(256, 128), de=(0.4, 0.1), df=(0.1, 0.2), lr=1e-4),
    'CS': dict(layers=(512, 256), de=(0.3, 0.2), df=(0.3, 0.4), lr=1e-5),
    'default': dict(layers=(512, 256), de=(0.2, 0.3), df=(0.2, 0.1), lr=5e-4),
}
for _p in PARAMS.values():
    _p.update(predictor_hidden=512, weight_decay=1e-5, tau=0.99, epochs=EPOCHS,
              paper_epochs=10000, row_normalize=False)


def embed(data, params: Dict, seed: int, deadline: Optional[float] = None) -> Tensor:
    gen = seeded(seed)
    x = features(data, params['row_normalize'])
    n = data.num_nodes
    channels = [data.num_features, *params['layers']]
    online = GCNStack(channels, act='prelu', last_act=True, batch_norm=True, bn_momentum=0.01)
    target = copy.deepcopy(online)
    for p in target.parameters():
        p.requires_grad_(False)
    d, hid = params['layers'][-1], params['predictor_hidden']
    predictor = torch.nn.Sequential(torch.nn.Linear(d, hid), torch.nn.PReLU(1),
                                    torch.nn.Linear(hid, d))
    params_online = [*online.parameters(), *predictor.parameters()]
    opt = torch.optim.AdamW(params_online, lr=params['lr'], weight_decay=params['weight_decay'])
    epochs = params['epochs']
    warmup = max(1, epochs // 10)
    for epoch in range(epochs):
        if out_of_time(deadline):
            break
        lr = params['lr'] * (epoch / warmup if epoch < warmup else
                             0.5 * (1 + math.cos(math.pi * (epoch - warmup) / (epochs - warmup))))
        for group in opt.param_groups:
            group['lr'] = lr
        tau = 1 - (1 - params['tau']) * (math.cos(math.pi * epoch / epochs) + 1) / 2
        online.train()
        target.train()
        opt.zero_grad()
        (x1, a1), (x2, a2) = (view(x, data.edge_index, params['df'][i], params['de'][i], n, gen)
                              for i in range(2))
        q1, q2 = predictor(online(x1, a1)), predictor(online(x2, a2))
        with torch.no_grad():
            y1, y2 = target(x1, a1), target(x2, a2)
        loss = 2 - F.cosine_similarity(q1, y2, dim=-1).mean() \
            - F.cosine_similarity(q2, y1, dim=-1).mean()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pt, po in zip(target.parameters(), online.parameters()):
                pt.mul_(tau).add_(po.detach(), alpha=1 - tau)
    online.eval()
    with torch.no_grad():
        return online(x, csr_adjacency(data.edge_index, n))
