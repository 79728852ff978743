"""The training device from a config string, with one message when CUDA is missing."""
from __future__ import annotations

import torch


def resolve_device(device: str, what: str = 'config') -> torch.device:
    """``torch.device`` for ``device``: ``'cpu'``, ``'cuda'``, ``'cuda:<i>'``, or ``'auto'``
    (CUDA where available, else the CPU). Asking for CUDA where there is none is a
    ``ValueError`` that names ``what`` (``'config'``, ``'ssl config'``) and the value."""
    if device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    dev = torch.device(device)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f"{what} 'device' is {device!r} but CUDA is not available here")
    return dev
