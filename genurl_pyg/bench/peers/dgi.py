"""Deep Graph Infomax (Veličković et al., ICLR 2019) through PyG's ``DeepGraphInfomax``,
set up as PyG's ``examples/infomax_transductive.py``: GCNConv(F, 512) + PReLU encoder,
row-shuffle corruption, sigmoid-mean summary, Adam lr 1e-3, 300 epochs, one setting for
every data set (the paper's Cora/CiteSeer encoder; the PyG example normalises features)."""
from __future__ import annotations

from typing import Dict, Optional

import torch
from torch import Tensor

from ._common import GCNStack, csr_adjacency, features, out_of_time, seeded

NAME = 'DGI'
SOURCE = 'PyG examples/infomax_transductive.py (paper: Veličković et al. 2019), every data set'
PARAMS: Dict[str, Dict] = {'default': dict(hidden=512, lr=1e-3, epochs=300,
                                           row_normalize=False)}


def embed(data, params: Dict, seed: int, deadline: Optional[float] = None) -> Tensor:
    from torch_geometric.nn import DeepGraphInfomax
    gen = seeded(seed)
    x = features(data, params['row_normalize'])
    n = data.num_nodes
    adj_t = csr_adjacency(data.edge_index, n)
    sparse = x.layout == torch.sparse_csr
    x_coo = x.to_sparse_coo() if sparse else None

    def corruption(x_in, adj):
        perm = torch.randperm(n, generator=gen)
        if sparse:
            return x_coo.index_select(0, perm).to_sparse_csr(), adj
        return x_in[perm], adj

    encoder = GCNStack([data.num_features, params['hidden']], act='prelu', last_act=True)
    model = DeepGraphInfomax(params['hidden'], encoder=encoder,
                             summary=lambda z, *a, **k: z.mean(dim=0).sigmoid(),
                             corruption=corruption)
    opt = torch.optim.Adam(model.parameters(), lr=params['lr'])
    for _ in range(params['epochs']):
        if out_of_time(deadline):
            break
        model.train()
        opt.zero_grad()
        loss = model.loss(*model(x, adj_t))
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return model(x, adj_t)[0]
