"""The SSL benchmark's peers, from lightly: SimCLR, BYOL and Barlow Twins.

Each peer is a module holding its heads (and, for BYOL, its momentum target) with one
call, ``peer(backbone, v1, v2) -> loss`` on the two views of a batch, and ``after_step``
for what follows the optimiser step. :class:`~genurl_pyg.vision.trainer.VisualTrainer`
runs them with the same views, backbone, batch size, epochs, optimiser and schedule as
GenURL (``SSLConfig.objective``), so a comparison differs only in the objective and its
heads. Losses and heads are lightly's (``pip install "genurl-pyg[ssl-peers]"``), with the
sizes of lightly's CIFAR-10 benchmark where the backbone is a ResNet, scaled to the
backbone's feature width ``D`` otherwise:

* SimCLR (Chen et al. 2020): projection ``D -> D -> 128`` with BatchNorm, NT-Xent loss,
  temperature 0.5;
* BYOL (Grill et al. 2020): projection ``D -> 4096 -> 256``, prediction
  ``256 -> 4096 -> 256``, a momentum copy of backbone and projection as the target
  (momentum ``SSLConfig.ema``), symmetric negative cosine similarity;
* Barlow Twins (Zbontar et al. 2021): projection ``D -> 2048 -> 2048``, the
  cross-correlation loss with off-diagonal weight 0.005.

Under ``torchrun`` (``gather=True``) SimCLR's negatives and Barlow Twins' cross-correlation
span the global batch (lightly's ``gather_distributed``), as GenURL's P and Q do; BYOL's
loss is a mean over images, which DDP's gradient average already makes global.
"""
from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from .backbones import ema_update

PEERS = ('simclr', 'byol', 'barlow')


def _lightly():
    from .._optional import require
    require('lightly', 'the SSL peers (SimCLR, BYOL, Barlow Twins)')
    from lightly import loss, models
    return loss, models


class SimCLRPeer(nn.Module):
    def __init__(self, dim: int, gather: bool = False) -> None:
        super().__init__()
        loss, models = _lightly()
        self.head = models.modules.SimCLRProjectionHead(dim, dim, 128)
        self.criterion = loss.NTXentLoss(temperature=0.5, gather_distributed=gather)

    def forward(self, backbone: nn.Module, v1: Tensor, v2: Tensor) -> Tensor:
        z = self.head(backbone(torch.cat([v1, v2])))
        z1, z2 = z.float().chunk(2)
        return self.criterion(z1, z2)

    def after_step(self, backbone: nn.Module, momentum: float) -> None:
        return None


class BYOLPeer(nn.Module):
    def __init__(self, dim: int, backbone: nn.Module) -> None:
        super().__init__()
        loss, models = _lightly()
        self.projection = models.modules.BYOLProjectionHead(dim, 4096, 256)
        self.prediction = models.modules.BYOLPredictionHead(256, 4096, 256)
        self.target_backbone = copy.deepcopy(backbone).requires_grad_(False)
        self.target_projection = copy.deepcopy(self.projection).requires_grad_(False)
        self.criterion = loss.NegativeCosineSimilarity()

    def forward(self, backbone: nn.Module, v1: Tensor, v2: Tensor) -> Tensor:
        v = torch.cat([v1, v2])
        p1, p2 = self.prediction(self.projection(backbone(v))).float().chunk(2)
        with torch.no_grad():
            t1, t2 = self.target_projection(self.target_backbone(v)).float().chunk(2)
        return 0.5 * (self.criterion(p1, t2) + self.criterion(p2, t1))

    def after_step(self, backbone: nn.Module, momentum: float) -> None:
        ema_update(self.target_backbone, backbone, momentum)
        ema_update(self.target_projection, self.projection, momentum)


class BarlowTwinsPeer(nn.Module):
    def __init__(self, dim: int, gather: bool = False) -> None:
        super().__init__()
        loss, models = _lightly()
        self.head = models.modules.BarlowTwinsProjectionHead(dim, 2048, 2048)
        self.criterion = loss.BarlowTwinsLoss(lambda_param=0.005, gather_distributed=gather)

    def forward(self, backbone: nn.Module, v1: Tensor, v2: Tensor) -> Tensor:
        z1, z2 = self.head(backbone(torch.cat([v1, v2]))).float().chunk(2)
        return self.criterion(z1, z2)

    def after_step(self, backbone: nn.Module, momentum: float) -> None:
        return None


def build_peer(name: str, dim: int, backbone: nn.Module, gather: bool = False) -> nn.Module:
    """The peer ``name`` (``'simclr'``, ``'byol'``, ``'barlow'``) for ``D = dim``;
    ``gather``: the loss spans every torchrun rank's images."""
    if name == 'simclr':
        return SimCLRPeer(dim, gather)
    if name == 'byol':
        return BYOLPeer(dim, backbone)
    if name == 'barlow':
        return BarlowTwinsPeer(dim, gather)
    raise ValueError(f"unknown SSL peer {name!r}; known: {', '.join(PEERS)}")
