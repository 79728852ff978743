"""Students: networks that embed a row (a node from its features, an image from its pixels)
alone, without neighbours."""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import torch
from torch import Tensor

from .config import DistillConfig

InShape = Union[int, Sequence[int]]


def build_student(in_shape: InShape, cfg: DistillConfig) -> torch.nn.Module:
    """The student of ``cfg`` for rows of ``in_shape`` (``D`` node features, or an image's
    ``(C, H, W)``).

    * ``'mlp'``: PyG's :class:`~torch_geometric.nn.MLP` (Linear, ``norm``, PReLU per hidden
      layer, a plain Linear output); ``'linear'``: one Linear layer. Embedding a node costs
      one ``O(D h + (L-1) h^2)`` matrix-vector chain: no neighbours.
    * ``'cnn'`` (images): :class:`~genurl_pyg.vision.backbones.SmallCNN` of width
      ``cnn_width`` (four conv-BN-ReLU blocks, ``8 w`` pooled channels; about
      ``25 (w / 32)^2`` MFLOPs per 32x32 image) and a Linear layer to ``out_channels``.
    """
    image = not isinstance(in_shape, int)
    if image and cfg.student != 'cnn':
        raise ValueError(f"image rows of shape {tuple(in_shape)} need distill config "
                         f"'student: cnn', got {cfg.student!r}")
    if not image and cfg.student == 'cnn':
        raise ValueError("distill config 'student: cnn' reads images [N, C, H, W]; these "
                         f"rows are {in_shape}-dimensional features (use 'mlp' or 'linear')")
    if cfg.student == 'cnn':
        from ..vision.backbones import SmallCNN
        cnn = SmallCNN(int(in_shape[0]), cfg.cnn_width)
        return torch.nn.Sequential(cnn, torch.nn.Linear(cnn.out_channels, cfg.out_channels))
    if cfg.student == 'linear':
        return torch.nn.Linear(in_shape, cfg.out_channels)
    from torch_geometric.nn import MLP
    channels = [in_shape] + [cfg.hidden_channels] * (cfg.num_layers - 1) + [cfg.out_channels]
    norm = None if cfg.norm == 'none' else cfg.norm
    return MLP(channels, norm=norm, act='prelu', dropout=cfg.dropout)


def first_output(out):
    """A module's representation: the first of a tuple output (e.g. GenURL's ``(h, z)``)."""
    return out[0] if isinstance(out, (tuple, list)) else out


def reads_sparse_rows(model: torch.nn.Module) -> bool:
    """Whether ``model``'s first op is a Linear layer, which reads CSR rows as it reads
    dense ones (``torch.nn.Linear``, PyG's ``Linear`` and ``MLP``: what
    :func:`build_student` builds for features). Other modules are not assumed to."""
    from torch_geometric.nn import MLP
    from torch_geometric.nn.dense.linear import Linear as PygLinear
    if isinstance(model, MLP):
        return isinstance(model.lins[0], (torch.nn.Linear, PygLinear))
    return isinstance(model, (torch.nn.Linear, PygLinear))


def _sparse_chunk(chunk: Tensor) -> Tensor:
    """A float chunk, as CSR when sparse enough for the first Linear to gain
    (:func:`~genurl_pyg.node.inputs.csr_if_sparse`, decided on a sample of rows)."""
    from ..node.inputs import csr_if_sparse
    return csr_if_sparse(chunk.float())


@torch.no_grad()
def embed_rows(model: Callable[[Tensor], Tensor], x: Tensor, batch_size: int = 65536,
               transform: Optional[Callable[[Tensor], Tensor]] = None,
               sparse_rows: bool = False) -> Tensor:
    """``model(transform(x))`` in eval mode, ``batch_size`` rows at a time (memory
    O(batch · h)), returned on the CPU; ``transform`` (default: ``float()``) prepares a
    chunk on the model's device (that of its first parameter, else the rows'), e.g. the
    normalisation of images; of a tuple output the first entry is kept. A module's
    train/eval state is restored afterwards. Embeds students, and image teachers chunk by
    chunk.

    ``sparse_rows`` (for a model whose first op is a Linear, :func:`reads_sparse_rows`):
    a chunk with under :data:`~genurl_pyg.node.inputs.SPARSE_INPUT_DENSITY` non-zeros goes
    in as CSR, so the first layer costs O(nnz h) instead of O(B D h) (bag-of-words rows:
    Physics' 8,415 columns are 0.39 % non-zero); the same function. Not with
    ``transform``. ``x`` may be stored sparse (CSR or COO, e.g. bag-of-words kept so at
    rest): chunks are row slices of its CSR form, read as CSR by such a model (no O(N D)
    pass over a dense copy) and made dense, one chunk at a time, for any other."""
    if sparse_rows and transform is not None:
        raise ValueError("embed_rows: 'sparse_rows' prepares the chunks itself; pass "
                         "either it or 'transform'")
    module = isinstance(model, torch.nn.Module)
    was_training = module and model.training
    if module:
        model.eval()
    device = next((p.device for p in model.parameters()), x.device) if module else x.device
    prepare = transform or (_sparse_chunk if sparse_rows else (lambda chunk: chunk.float()))
    if x.layout != torch.strided:  # rows kept sparse: CSR chunks, dense for other models
        from ..node.inputs import as_csr, csr_rows
        x = as_csr(x)
        rows = csr_rows if sparse_rows else (lambda m, i, j: csr_rows(m, i, j).to_dense())
        prepare = transform or (lambda chunk: chunk.float())
    else:
        rows = (lambda m, i, j: m[i:j])
    try:
        parts = [first_output(model(prepare(rows(x, i, i + batch_size).to(device)))).cpu()
                 for i in range(0, x.size(0), batch_size)]
    finally:
        if module:
            model.train(was_training)
    return torch.cat(parts) if parts else x.new_zeros(0, 0)
