r"""Image backbones: torchvision's ResNets with the CIFAR stem, and a small CNN for CPUs.

Every backbone maps ``[B, C, H, W]`` images to ``[B, D]`` features (the representation that
the probes score; the projector comes after it). ``build_backbone(name, in_channels)``
returns ``(module, D)``; any other ``nn.Module`` with that contract is accepted by the
trainer, which checks the output shape once before training (:func:`feature_dim`).

* ``resnet18`` / ``resnet50``: ``torchvision.models.resnet18/50`` from scratch, with the
  CIFAR stem of the SimCLR paper for 32-pixel images (the 7x7 stride-2 convolution replaced
  by a 3x3 stride-1 one, no max-pool), the classifier replaced by the identity: D = 512 /
  2048. About 0.56 / 1.3 GFLOPs per 32x32 image.
* ``small-cnn``: four 3x3 convolution blocks (BatchNorm, ReLU; widths w, 2w, 4w, 8w with
  ``w = 32``), stride 2 from the second on, global average pooling: D = 256, about 25
  MFLOPs per 32x32 image, for the CPU-scale benchmark.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor, nn

BACKBONES = ('small-cnn', 'resnet18', 'resnet50')


class SmallCNN(nn.Module):
    """Four conv-BN-ReLU blocks and global average pooling: ``[B, C, H, W] -> [B, 8w]``."""

    def __init__(self, in_channels: int = 3, width: int = 32) -> None:
        super().__init__()
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"'width' must be a positive integer, got {width!r}")
        layers, c = [], in_channels
        for i, w in enumerate((width, 2 * width, 4 * width, 8 * width)):
            layers += [nn.Conv2d(c, w, 3, stride=1 if i == 0 else 2, padding=1, bias=False),
                       nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            c = w
        self.features = nn.Sequential(*layers)
        self.out_channels = c

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.BatchNorm2d)):
                m.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x).mean(dim=(2, 3))


def resnet_cifar(depth: int = 18, in_channels: int = 3) -> Tuple[nn.Module, int]:
    """torchvision's ResNet-18/50 with the CIFAR stem and no classifier: ``(module, D)``."""
    from .._optional import require
    models = require('torchvision', 'the ResNet backbones').models
    if depth not in (18, 50):
        raise ValueError(f"ResNet depth must be 18 or 50, got {depth!r}")
    net = models.resnet18() if depth == 18 else models.resnet50()
    net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    dim = net.fc.in_features
    net.fc = nn.Identity()
    return net, dim


def build_backbone(name: str, in_channels: int = 3) -> Tuple[nn.Module, int]:
    """``(backbone, feature dimension)`` by name: ``'small-cnn'``, ``'resnet18'``,
    ``'resnet50'``."""
    if name == 'small-cnn':
        net = SmallCNN(in_channels)
        return net, net.out_channels
    if name in ('resnet18', 'resnet50'):
        return resnet_cifar(int(name[len('resnet'):]), in_channels)
    raise ValueError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}, or pass "
                     f"any nn.Module that maps [B, C, H, W] to [B, D]")


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """``target <- momentum * target + (1 - momentum) * online`` for the parameters; buffers
    (BatchNorm statistics) copied. The EMA teacher of GenURL's P and BYOL's target."""
    for t, s in zip(target.parameters(), online.parameters()):
        t.lerp_(s, 1 - momentum)
    for t, s in zip(target.buffers(), online.buffers()):
        t.copy_(s)


@torch.no_grad()
def feature_dim(backbone: nn.Module, shape: Tuple[int, int, int],
                device: torch.device = torch.device('cpu')) -> int:
    """Runs two zero images of ``shape`` (C, H, W) through ``backbone`` (in eval mode, then
    back to its mode) and returns D; raises ``ValueError`` naming the problem if the output
    is not ``[2, D]``."""
    was_training = backbone.training
    backbone.eval()
    try:
        out = backbone(torch.zeros(2, *shape, device=device))
    except Exception as err:
        raise ValueError(f'the backbone failed on images of shape {tuple(shape)}: '
                         f'{type(err).__name__}: {err}') from err
    finally:
        backbone.train(was_training)
    if not isinstance(out, Tensor) or out.dim() != 2 or out.size(0) != 2:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f'the backbone must map [B, C, H, W] images to [B, D] features; on '
                         f'a batch of 2 images of shape {tuple(shape)} it returned {got}')
    return int(out.size(1))
