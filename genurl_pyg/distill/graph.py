"""Graph-free node embeddings: a message-passing teacher distilled into an MLP on features.

Two settings (GLNN's, Zhang et al., ICLR 2022, without their labels):

* *transductive*: teacher and student see every node; the student replaces the teacher at
  inference (one matrix-vector chain per node, no neighbourhood);
* *inductive*: a share of the test nodes is held out (:func:`inductive_split`); the teacher
  is trained on the graph without them and the student on the observed nodes only; at
  evaluation the held-out nodes are embedded by the student from their features alone, and
  by the teacher run on the full graph.
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.data import Data

from .config import DistillConfig
from .distiller import GenURLDistiller, Teacher


def inductive_split(test_mask: Tensor, fraction: float = 0.2, seed: int = 0) -> Tensor:
    """The held-out (unobserved) nodes: a uniform ``fraction`` of the test nodes, as a
    boolean mask. Every other node, with the edges among them, is the observed graph."""
    if not 0 < fraction < 1:
        raise ValueError(f"'fraction' must be in (0, 1), got {fraction}")
    test = test_mask.nonzero().view(-1)
    if test.numel() < 2:
        raise ValueError('the inductive setting needs at least 2 test nodes to hold out from')
    g = torch.Generator().manual_seed(seed)
    count = max(1, int(round(fraction * test.numel())))
    held = test[torch.randperm(test.numel(), generator=g)[:count]]
    mask = torch.zeros_like(test_mask, dtype=torch.bool)
    mask[held] = True
    return mask


def held_out_validation(val_mask: Tensor, test_mask: Tensor,
                        seed: int = 0) -> Tuple[Tensor, Tensor, Tensor]:
    """The inductive protocol for choosing settings without the test nodes: a fifth of the
    test nodes (:func:`inductive_split`) and half of the validation nodes are held out of
    teacher and student training. Returns ``(held_out, held_val, fit_val)``: every held-out
    node, the held-out validation nodes (where a setting is scored) and the observed
    validation nodes (where a probe's C is chosen)."""
    held_val = inductive_split(val_mask, 0.5, seed + 1000)
    held = inductive_split(test_mask, 0.2, seed) | held_val
    return held, held_val, val_mask & ~held_val


def observed_subgraph(data: Data, held_out: Tensor) -> Data:
    """``data`` without the ``held_out`` nodes and their edges (node ids relabelled in the
    order of the kept nodes; ``data`` itself is not changed)."""
    from torch_geometric.utils import subgraph
    keep = ~held_out
    edge_index, _ = subgraph(keep, data.edge_index, relabel_nodes=True,
                             num_nodes=data.num_nodes)
    sub = Data(x=data.x[keep], edge_index=edge_index)
    if getattr(data, 'y', None) is not None:
        sub.y = data.y[keep]
    return sub


def observed_masks(held_out: Optional[Tensor], *masks: Tensor) -> Tuple[Tensor, ...]:
    """Node masks of the full graph restricted to the rows of
    :func:`observed_subgraph` ``(data, held_out)`` (the kept nodes, in their order); the
    masks themselves when nothing is held out."""
    return masks if held_out is None else tuple(m[~held_out] for m in masks)


#: the probability a class the probe never saw among the training nodes gets in GLNN's target
ABSENT_CLASS_PROBABILITY = 1e-8


def glnn_targets(embeddings: Tensor, y: Tensor, train_mask: Tensor,
                 val_mask: Tensor) -> Tuple[Tensor, Tensor]:
    r"""GLNN's targets from an unsupervised teacher, for ``objective='glnn'``: the class
    log-probabilities of the project's probe (:func:`~genurl_pyg.evaluation.linear_probe`:
    logistic regression on the standardised ``embeddings``, fitted on ``train_mask``, C
    chosen on ``val_mask``: what the teacher's accuracy reads) for every row, ``[N, C]``
    with ``C = y.max() + 1``, and the training rows' labels (``-1`` elsewhere) for the
    objective's cross-entropy term. A class without a training row gets probability
    :data:`ABSENT_CLASS_PROBABILITY` in every row (the rows renormalised). Cost: the
    probe's, O(|Cs| · fit) on the training rows plus O(N d C)."""
    import numpy as np
    from scipy.special import logsumexp
    from ..evaluation import linear_probe
    r = linear_probe(embeddings, y, train_mask, val_mask, val_mask, keep_proba=True)
    classes = int(y.max()) + 1
    full = np.full((r.log_proba.shape[0], classes), np.log(ABSENT_CLASS_PROBABILITY))
    full[:, r.classes.astype(int)] = r.log_proba
    full -= logsumexp(full, axis=1, keepdims=True)
    labels = torch.full_like(y, -1)
    labels[train_mask] = y[train_mask]
    return torch.from_numpy(full).float(), labels


def distill_node_embeddings(data: Data, teacher: Teacher,
                            config: Optional[DistillConfig] = None,
                            student: Optional[torch.nn.Module] = None,
                            progress: Optional[Callable[[int, float], None]] = None,
                            checkpoint=None, labels: Optional[Tensor] = None,
                            **overrides) -> GenURLDistiller:
    """Distils ``teacher`` into a graph-free student on the nodes of ``data`` and returns the
    fitted :class:`GenURLDistiller`; ``distiller.embed(x)`` embeds any nodes from their
    features, without ``edge_index``.

    Args:
        data (Data): the graph the student is trained on (``x``; ``edge_index`` is the
            teacher's input when it is a module and P's predefined part with
            ``use_graph=True``).
        teacher: ``[N, d_t]`` embeddings of ``data``'s nodes, or a frozen module called as
            ``teacher(data.x, data.edge_index)`` (e.g. a trained GenURL model, whose
            ``(h, z)`` output is read as ``h``).
        config (DistillConfig, optional): base settings; ``overrides`` update them
            (``epochs=100, objective='mse'``).
        student (Module or str, optional): a module replaces the config's MLP; a name
            ('mlp', 'linear') sets the config's 'student'.
        checkpoint (path, optional): written every 25 epochs; an existing one is resumed.
        labels (Tensor, optional): ``[N]`` classes, ``-1`` for unlabelled nodes: only for
            the supervised reference ``objective='glnn'`` (``teacher`` then holds class
            logits), whose cross-entropy term (``label_weight``) reads them.
    """
    if not isinstance(data, Data):
        raise TypeError(f"'data' must be a torch_geometric.data.Data, got "
                        f"{type(data).__name__}")
    if getattr(data, 'x', None) is None:
        raise ValueError("'data.x' is missing: the student embeds nodes from their features")
    if isinstance(student, str):  # the student's kind ('mlp', 'cnn'): a config key
        overrides, student = {**overrides, 'student': student}, None
    cfg = DistillConfig.from_dict(overrides, base=config)
    distiller = GenURLDistiller(teacher, data.x, cfg, student=student,
                                edge_index=getattr(data, 'edge_index', None),
                                progress=progress, labels=labels)
    distiller.fit_resuming(checkpoint)
    return distiller
