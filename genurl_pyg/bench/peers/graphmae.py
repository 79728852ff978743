r"""GraphMAE (Hou et al., KDD 2022, "GraphMAE: Self-Supervised Masked Graph Autoencoders").

A fraction ``mask_rate`` of the nodes get their input features replaced: most by a learnable
[MASK] token, a ``replace_rate`` share by another random node's features. A GAT encoder
(``num_layers`` layers, ``num_heads`` heads of ``num_hidden / num_heads`` channels,
concatenated, PReLU, input dropout, attention dropout) encodes the graph; a bias-free linear
map and re-masking of the masked nodes feed a one-layer, one-head GAT decoder that
reconstructs the input features; the loss is the scaled cosine error on the masked nodes,
:math:`\frac1{|M|}\sum_{i\in M}(1 - \cos(x_i, \hat x_i))^{\alpha}`. Adam with weight decay
and a cosine learning-rate decay. The embedding is the encoder's output on the unmasked
graph in eval mode.

Settings: the authors' ``configs.yml`` for Cora and CiteSeer; the other data sets were not in
the paper's transductive table and get Cora's. Citation features row-normalised (the DGL
loaders the authors used).
"""
from __future__ import annotations

import math
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import features, out_of_time, seeded

NAME = 'GraphMAE'
SOURCE = 'authors\' configs.yml (github.com/THUDM/GraphMAE) for Cora, CiteSeer; Cora\'s elsewhere'
PARAMS: Dict[str, Dict] = {
    'Cora': dict(lr=1e-3, num_hidden=512, num_heads=4, num_layers=2, weight_decay=2e-4,
                 epochs=1500, mask_rate=0.5, replace_rate=0.05, alpha=3, in_drop=0.2,
                 attn_drop=0.1, row_normalize=True),
    'CiteSeer': dict(lr=1e-3, num_hidden=512, num_heads=2, num_layers=2, weight_decay=2e-5,
                     epochs=300, mask_rate=0.5, replace_rate=0.1, alpha=1, in_drop=0.2,
                     attn_drop=0.1, row_normalize=True),
}
PARAMS['default'] = dict(PARAMS['Cora'], row_normalize=False)
PARAMS['DBLP'] = dict(PARAMS['Cora'])


class _GAT(torch.nn.Module):
    def __init__(self, in_channels, hidden, out_channels, num_layers, heads, out_heads,
                 in_drop, attn_drop, last_act):
        super().__init__()
        from torch_geometric.nn import GATConv
        self.in_drop = in_drop
        self.convs = torch.nn.ModuleList()
        self.acts = torch.nn.ModuleList()
        c = in_channels
        for i in range(num_layers):
            last = i == num_layers - 1
            h, o = (out_heads, out_channels) if last else (heads, hidden)
            self.convs.append(GATConv(c, o // h, heads=h,
                                      dropout=attn_drop, concat=True))
            self.acts.append(torch.nn.PReLU() if (not last or last_act) else torch.nn.Identity())
            c = o
        self.out_channels = c

    def forward(self, x, edge_index):
        for conv, act in zip(self.convs, self.acts):
            x = act(conv(F.dropout(x, self.in_drop, self.training), edge_index))
        return x


def sce_loss(x: Tensor, y: Tensor, alpha: float) -> Tensor:
    return (1 - F.cosine_similarity(x, y, dim=-1)).pow(alpha).mean()


def embed(data, params: Dict, seed: int, deadline: Optional[float] = None) -> Tensor:
    gen = seeded(seed)
    x = features(data, params['row_normalize'])
    if x.layout == torch.sparse_csr:  # GAT's attention needs dense inputs
        x = x.to_dense()
    n, f, hid = data.num_nodes, data.num_features, params['num_hidden']
    ei = data.edge_index
    encoder = _GAT(f, hid, hid, params['num_layers'], params['num_heads'], params['num_heads'],
                   params['in_drop'], params['attn_drop'], last_act=True)
    decoder = _GAT(hid, f, f, 1, 1, 1, params['in_drop'], params['attn_drop'], last_act=False)
    to_decoder = torch.nn.Linear(hid, hid, bias=False)
    mask_token = torch.nn.Parameter(torch.zeros(1, f))
    modules = torch.nn.ModuleList([encoder, decoder, to_decoder])
    opt = torch.optim.Adam([*modules.parameters(), mask_token], lr=params['lr'],
                           weight_decay=params['weight_decay'])
    epochs = params['epochs']
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda e: (1 + math.cos(e * math.pi / epochs)) * 0.5)
    num_mask = int(params['mask_rate'] * n)
    for _ in range(epochs):
        if out_of_time(deadline):
            break
        modules.train()
        opt.zero_grad()
        perm = torch.randperm(n, generator=gen)
        masked = perm[:num_mask]
        order = torch.randperm(num_mask, generator=gen)
        num_noise = int(params['replace_rate'] * num_mask)
        token_nodes = masked[order[:num_mask - num_noise]]
        noise_nodes = masked[order[num_mask - num_noise:]]
        x_in = x.clone()
        x_in[token_nodes] = 0.0
        if num_noise:
            x_in[noise_nodes] = x[torch.randperm(n, generator=gen)[:num_noise]]
        x_in[token_nodes] += mask_token
        rep = to_decoder(encoder(x_in, ei))
        rep = rep.index_fill(0, masked, 0.0)  # re-mask before decoding
        recon = decoder(rep, ei)
        loss = sce_loss(recon[masked], x[masked], params['alpha'])
        loss.backward()
        opt.step()
        sched.step()
    encoder.eval()
    with torch.no_grad():
        return encoder(x, ei)
