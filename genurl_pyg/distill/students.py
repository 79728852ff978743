"""Students: graph-free networks that embed a node (or any row) from its features alone."""
from __future__ import annotations

import torch
from torch import Tensor

from .config import DistillConfig


def build_student(in_channels: int, cfg: DistillConfig) -> torch.nn.Module:
    """The student of ``cfg``: an MLP (PyG's :class:`~torch_geometric.nn.MLP`: Linear,
    ``norm``, PReLU per hidden layer, a plain Linear output) or one Linear layer.
    Embedding a node costs one ``O(D h + (L-1) h^2)`` matrix-vector chain: no neighbours."""
    if cfg.student == 'linear':
        return torch.nn.Linear(in_channels, cfg.out_channels)
    from torch_geometric.nn import MLP
    channels = [in_channels] + [cfg.hidden_channels] * (cfg.num_layers - 1) + [cfg.out_channels]
    norm = None if cfg.norm == 'none' else cfg.norm
    return MLP(channels, norm=norm, act='prelu', dropout=cfg.dropout)


@torch.no_grad()
def embed_rows(student: torch.nn.Module, x: Tensor, batch_size: int = 65536) -> Tensor:
    """``student(x)`` in eval mode, ``batch_size`` rows at a time (memory O(batch · h)),
    returned on the CPU. The student's train/eval state is restored afterwards."""
    was_training = student.training
    student.eval()
    device = next(student.parameters()).device
    try:
        parts = [student(x[i:i + batch_size].to(device).float()).cpu()
                 for i in range(0, x.size(0), batch_size)]
    finally:
        student.train(was_training)
    return torch.cat(parts) if parts else x.new_zeros(0, 0)
