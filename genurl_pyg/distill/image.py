r"""Images: a pretrained backbone distilled into a smaller CNN, with the vision task's views.

The same :class:`~genurl_pyg.distill.GenURLDistiller` as for graphs. DSM: P is built once
from the teacher backbone's features of the *unaugmented* training images (kNN, geodesics:
the teacher's neighbourhoods); LDT: each step the student (the small CNN, ``student: cnn``)
reads one random view per anchor image (:class:`~genurl_pyg.vision.views.BatchViews`, the
SimCLR augmentations of the vision task) and its Student-t Q is pulled to P by the GKL. The
peers (regression, RKD, PKT, SEED) train the same student on the same views against the same
static teacher features. By default (``'auto'``) GenURL's student keeps the paper's
objective: P from the teacher alone, no anchor. ``input_weight`` w > 0 mixes in the pixels'
own kNN and ``anchor_weight`` > 0 adds a cosine anchor to the teacher's features (session
48 chose both on held-out training images; fresh validation seeds withdrew them in session
49: a kNN gain, no linear one beyond the noise). Building P costs one teacher pass over the
N images plus the kNN (:class:`~genurl_pyg.structure.SimilarityBuilder`, O(N k) memory; with
w > 0 a second kNN over the flattened pixels); a step costs the student on about
``B (1 + r)`` views.

``teacher_views`` (issue 15's "views applied to both"): the frozen teacher module reads
each step's view too, and every objective reads its features of that view instead of the
static ones (GenURL: the batch's block of P rebuilt from them each step, ``pairs: block``;
the regression peers standardise them by the static features' column statistics). A step
then also costs one teacher forward on the B views; the teacher must be given as a module
(or weights), not as features.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Optional, Union

import torch
from torch import Tensor, nn

from .config import DistillConfig
from .distiller import GenURLDistiller, load_teacher

ImageTeacher = Union[Tensor, nn.Module, str, Path]


def image_views(train_images: Tensor, views: Optional[Dict[str, Any]] = None):
    """The student's :class:`~genurl_pyg.vision.views.BatchViews`: the vision task's view
    settings (``views`` overrides :class:`~genurl_pyg.vision.views.ViewConfig`'s SimCLR
    defaults; the size defaults to the images' own), normalised by the training images'
    channel statistics."""
    from ..vision.data import channel_stats
    from ..vision.views import BatchViews, ViewConfig
    mean, std = channel_stats(train_images)
    config = ViewConfig.from_dict({'size': int(train_images.size(-1)), **(views or {})})
    return BatchViews(config, mean.tolist(), std.tolist())


def load_image_teacher(source: Union[nn.Module, str, Path], in_channels: int,
                       backbone: Optional[str] = None) -> nn.Module:
    """The teacher backbone (loaded weights: frozen, eval mode) from

    * an ``nn.Module`` (any backbone mapping ``[B, C, H, W]`` to ``[B, D]``; returned as
      it is),
    * a ``genurl-pyg ssl`` run folder (its ``backbone.pt``, built as the ``backbone`` its
      ``result.json`` names), or
    * a ``state_dict`` file, built as ``backbone`` (``'small-cnn'``, ``'resnet18'``,
      ``'resnet50'``: :func:`~genurl_pyg.vision.backbones.build_backbone`).

    Weights that do not fit the architecture are a ``ValueError`` naming the tensors."""
    from ..vision.backbones import build_backbone
    if isinstance(source, nn.Module):  # used as given: the teacher pass sets eval mode and
        return source  # no_grad for its duration and restores the module's mode after
    path = Path(source)
    if path.is_dir():
        from ..utils.io import read_json_object
        weights, result = path / 'backbone.pt', path / 'result.json'
        if not weights.is_file() or not result.is_file():
            raise FileNotFoundError(f"{str(path)!r} is not a `genurl-pyg ssl` run folder (no "
                                    "backbone.pt and result.json): give that folder, a "
                                    "state_dict file with its backbone name, or embeddings")
        named = (read_json_object(result).get('config') or {}).get('backbone')
        if backbone is not None and named is not None and backbone != named:
            raise ValueError(f"{str(path)!r} holds a {named!r} backbone, not {backbone!r}")
        backbone, path = backbone or named, weights
    elif not path.is_file():
        raise FileNotFoundError(f"teacher {str(path)!r} does not exist (give a `genurl-pyg "
                                "ssl` run folder, a state_dict file, or [N, d] embeddings)")
    if backbone is None:
        raise ValueError(f"the teacher weights {str(path)!r} need their architecture: pass "
                         "the backbone name (e.g. 'resnet18' or 'small-cnn')")
    module, _ = build_backbone(backbone, in_channels)
    return load_teacher(module, path)


def distill_image_embeddings(images: Tensor, teacher: ImageTeacher,
                             config: Optional[DistillConfig] = None,
                             student: Optional[nn.Module] = None,
                             views: Optional[Dict[str, Any]] = None,
                             teacher_backbone: Optional[str] = None,
                             progress: Optional[Callable[[int, float], None]] = None,
                             checkpoint=None, **overrides: Any) -> GenURLDistiller:
    """Distils ``teacher`` into a small CNN on the training ``images`` and returns the fitted
    :class:`GenURLDistiller`; ``distiller.embed(new_images)`` embeds any images of the same
    shape (unaugmented, normalised as in training).

    Args:
        images (Tensor): ``uint8`` (or float in [0, 1]) training images ``[N, C, H, W]``.
        teacher: ``[N, d_t]`` features of those images, a backbone module, a ``genurl-pyg
            ssl`` run folder, or a ``state_dict`` file with ``teacher_backbone``
            (:func:`load_image_teacher`); a module is moved to the config's device.
        config (DistillConfig, optional): base settings (default: the defaults with
            ``student: cnn``); ``overrides`` update them (``epochs=20, objective='mse'``).
        student (Module or str, optional): a module replaces the config's CNN; a name
            ('cnn') sets the config's 'student'.
        views (dict, optional): :class:`~genurl_pyg.vision.views.ViewConfig` fields for the
            student's views (default: the vision task's SimCLR views). The teacher's
            targets are of unaugmented images; on 5,000 Fashion-MNIST images
            ``{'crop_scale': (1.0, 1.0)}`` (no crop) gave every student about a point more
            linear accuracy, and the regression objectives most kNN
            (``experiments/results/kd_image_validation_views.md``).
        checkpoint (path, optional): written every 25 epochs; an existing one is resumed.
    """
    from .._validation import check_images
    images = check_images(images, 'images', min_rows=3)
    if isinstance(student, str):  # the student's kind ('mlp', 'cnn'): a config key
        overrides, student = {**overrides, 'student': student}, None
    cfg = DistillConfig.from_dict(overrides, base=config or DistillConfig(student='cnn'))
    batch_views = image_views(images, views)
    if not isinstance(teacher, Tensor):
        teacher = load_image_teacher(teacher, images.size(1), teacher_backbone)
        from ..utils.devices import resolve_device
        teacher = teacher.to(resolve_device(cfg.device))  # where the student trains
    distiller = GenURLDistiller(teacher, images, cfg, student=student, progress=progress,
                                views=batch_views)
    distiller.fit_resuming(checkpoint)
    return distiller
