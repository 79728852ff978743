"""The training device from a config string, with one message when CUDA is missing, and
whether a device multiplies bfloat16 natively."""
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


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware: a CUDA device that torch
    says supports bfloat16 without emulation, or a CPU with AVX512-BF16 or AMX tiles (elsewhere torch emulates
    bfloat16 on a CPU, slower than float32). False when torch cannot tell (the CPU probes
    are private torch functions)."""
    if device.type == 'cuda':
        try:  # torch >= 2.3 counts emulated bfloat16 (pre-Ampere GPUs) unless told not to
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
        except TypeError:
            return bool(torch.cuda.is_bf16_supported())
    if device.type != 'cpu':
        return False
    probes = ('_is_avx512_bf16_supported', '_is_amx_tile_supported')
    try:
        return any(bool(getattr(torch.cpu, name)()) for name in probes
                   if hasattr(torch.cpu, name))
    except RuntimeError:
        return False
