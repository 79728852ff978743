"""Multi-process training with PyTorch's own engine (``torch.distributed`` + DDP).

Launch any GenURL job with ``torchrun`` and it runs data-parallel:

.. code-block:: bash

    torchrun --nproc_per_node=2 -m genurl_pyg train --dataset Cora --out runs/cora-ddp

``torchrun`` sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; :func:`context` reads them,
starts the process group once (``gloo`` on CPU, ``nccl`` when the config asks for CUDA) and
says which rank this process is. Without those variables everything runs as one process.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import torch


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``rank`` of ``world_size`` (1 when not distributed)."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def device(self, requested: str) -> torch.device:
        """CUDA runs put each rank on its own GPU (``cuda:LOCAL_RANK``)."""
        dev = torch.device(requested)
        if self.enabled and dev.type == 'cuda' and dev.index is None:
            return torch.device('cuda', self.local_rank)
        return dev


def _env_int(name: str) -> Optional[int]:
    value = os.environ.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} must be an integer "
                         "(it is set by torchrun)") from None


def context(device: str = 'cpu') -> DistContext:
    """Reads torchrun's environment and initialises the process group on first use."""
    world = _env_int('WORLD_SIZE') or 1
    if world <= 1:
        return DistContext()
    rank, local = _env_int('RANK') or 0, _env_int('LOCAL_RANK') or 0
    dist = torch.distributed
    if not dist.is_available():
        raise RuntimeError('WORLD_SIZE > 1 but this torch build has no torch.distributed')
    if not dist.is_initialized():
        backend = 'nccl' if torch.device(device).type == 'cuda' else 'gloo'
        if backend == 'nccl':
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return DistContext(dist.get_rank(), dist.get_world_size(), local)


def rank_generator(seed: int, rank: int, epoch: int = 0) -> torch.Generator:
    """The per-step generator of one torchrun rank: its own stream for every (seed, rank),
    and, for a run resumed at ``epoch``, a stream unlike the one before the checkpoint."""
    return torch.Generator().manual_seed(seed + 1_000_003 * (rank + 1) + epoch)


class _GatherRows(torch.autograd.Function):
    """All-gather forward; backward: the sum over ranks of the gradient each rank's loss
    sends to every rank's rows (an all-reduce), of which this rank keeps its own rows."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        parts = [torch.empty_like(x) for _ in range(torch.distributed.get_world_size())]
        torch.distributed.all_gather(parts, x)
        return tuple(parts)

    @staticmethod
    def backward(ctx, *grads: torch.Tensor) -> torch.Tensor:
        total = torch.stack(grads)
        torch.distributed.all_reduce(total)
        return total[torch.distributed.get_rank()]


def gather_rows(x: torch.Tensor, ctx: DistContext) -> List[torch.Tensor]:
    """Every rank's ``x`` (same shape on each), in rank order, with the gradient kept.

    The backward pass sums, over the ranks, the gradient each rank's loss sends to this
    rank's rows. When every rank computes the same loss over the gathered rows, DDP's
    average of the parameter gradients is then exactly the gradient of that loss for one
    process holding all the rows; when each computes its own (a sampled estimate), it is
    the average of their gradients. One process: ``[x]``. Cost: one all-gather of ``x``
    forward, one all-reduce of the gathered rows' gradient backward."""
    if not ctx.enabled:
        return [x]
    return list(_GatherRows.apply(x.contiguous()))


def gather_objects(obj: Any, ctx: DistContext) -> List[Any]:
    """Every rank's picklable ``obj`` in rank order (``[obj]`` for one process); a
    collective: every rank must call it."""
    if not ctx.enabled:
        return [obj]
    out: List[Any] = [None] * ctx.world_size
    torch.distributed.all_gather_object(out, obj)
    return out


def wrap_ddp(model: torch.nn.Module, ctx: DistContext, device: torch.device) -> torch.nn.Module:
    """``DistributedDataParallel(model)`` under torchrun, else the model itself. DDP
    broadcasts rank 0's parameters at construction and averages gradients in backward."""
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel
    ids = [device.index] if device.type == 'cuda' else None
    return DistributedDataParallel(model, device_ids=ids)
