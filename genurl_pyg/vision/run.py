"""The image task end to end: ``fit_visual_embeddings`` and the ``genurl-pyg ssl`` job."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple, Union

import torch
from torch import nn

from .config import SSLConfig
from .data import ImageData, load_images
from .trainer import VisualTrainer


def fit_visual_embeddings(data: Union[str, ImageData], config: Optional[SSLConfig] = None,
                          backbone: Optional[nn.Module] = None, root: Optional[str] = None,
                          checkpoint: Optional[Path] = None,
                          progress: Optional[Callable[..., None]] = None,
                          linear_probe: bool = True,
                          **overrides: Any) -> Tuple[nn.Module, Dict[str, Any]]:
    """Pretrains a backbone with GenURL on an image set and scores it.

    ``data``: a name of :data:`~genurl_pyg.vision.data.IMAGE_DATASETS` or an
    :class:`ImageData`; ``config`` (default :class:`SSLConfig`) updated by ``overrides``
    (``epochs=50, backbone='resnet18'``). Returns ``(backbone, result)``: the trained
    backbone (features ``[B, D]``) and a dict with the kNN-monitor accuracy (k 200,
    temperature 0.1) and, with ``linear_probe``, the linear-probe accuracy of the test
    images, plus images/s, seconds and the kNN history.

    Under ``torchrun`` every process trains its part of each batch
    (:class:`~genurl_pyg.vision.trainer.VisualTrainer`) and returns the same backbone; rank
    0 alone scores it, the others return ``{'rank': r, 'processes': world}``.
    """
    images = load_images(data, root) if isinstance(data, str) else data
    cfg = SSLConfig.from_dict(overrides, base=config or SSLConfig())
    trainer = VisualTrainer(images, cfg, backbone=backbone, progress=progress)
    start = time.perf_counter()
    trainer.fit(checkpoint)
    if not trainer.dist.is_main:  # the probes read one backbone: rank 0's, the same
        return trainer.model['backbone'], {'rank': trainer.dist.rank,
                                           'processes': trainer.dist.world_size}
    train_s = trainer.state.seconds
    result: Dict[str, Any] = {
        'processes': trainer.dist.world_size,
        'dataset': images.name, 'note': images.note, 'config': cfg.to_dict(),
        'epochs': trainer.state.epoch, 'losses': trainer.state.losses,
        'knn_history': trainer.state.knn,
        'images_per_second': trainer.state.images / max(train_s, 1e-9),
        'train_seconds': train_s, 'seconds_per_epoch': train_s / max(1, trainer.state.epoch),
    }
    train_f, test_f = trainer.embed(images.train_x), trainer.embed(images.test_x)
    from ..evaluation.image import image_linear_probe, knn_accuracy
    result['knn_accuracy'] = knn_accuracy(train_f, images.train_y, test_f, images.test_y,
                                          k=cfg.knn_k, temperature=cfg.knn_temperature)
    if linear_probe:
        probe = image_linear_probe(train_f, images.train_y, test_f, images.test_y,
                                   seed=cfg.seed)
        result.update(linear_accuracy=probe.test_accuracy, linear_val_accuracy=probe.val_accuracy,
                      linear_C=probe.C)
    result['eval_seconds'] = time.perf_counter() - start - train_s
    result['test_features'] = test_f  # popped by ssl_job (not JSON)
    return trainer.model['backbone'], result


def ssl_job(dataset: str, cfg: SSLConfig, out: Path, root: Optional[str] = None,
            resume: bool = False, plot: bool = False, progress: bool = True,
            command: str = '', log: Callable[[str], None] = print) -> Dict[str, Any]:
    """``genurl-pyg ssl``: trains, scores and writes ``out/`` (``result.json``,
    ``backbone.pt`` (the backbone's ``state_dict``), ``checkpoint.pt`` for ``--resume``,
    and with ``plot`` ``test_map.png``, a 2-D map of the test features). Under
    ``torchrun`` rank 0 alone decodes the images first, logs, shows progress and writes."""
    from .. import distributed
    from ..utils.devices import resolve_device
    from ..utils.io import atomic_torch_save, atomic_write_json, ensure_writable_dir
    from ..utils.resources import peak_rss_mb
    from ..utils.versions import library_versions
    out = ensure_writable_dir(Path(out))
    ckpt = out / 'checkpoint.pt'
    if ckpt.exists() and not resume:
        raise FileExistsError(f'{out} holds a checkpoint of an earlier run; pass --resume to '
                              f'continue it, or choose another --out (nothing was changed)')
    ctx = distributed.context(str(resolve_device(cfg.device, 'ssl config')))
    if not ctx.is_main:  # rank 0 decodes into the cache once; the others then read it
        ctx.barrier()
    try:
        images = load_images(dataset, root)
    finally:  # on rank 0's error the others meet it, then fail on the same cause
        if ctx.is_main:
            ctx.barrier()
    if not ctx.is_main:
        log = _silent
    log(f'{images!r}' + (f' ({images.note})' if images.note else ''))
    bar = None
    if progress and ctx.is_main:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.epochs, desc=f'{images.name} ssl', unit='epoch', leave=True)

    def report(epoch, step, steps, loss, rate):
        if bar is not None:
            bar.n = epoch - 1 + step / steps
            bar.set_postfix(loss=f'{loss:.4f}', img_s=f'{rate:.0f}', refresh=False)
            bar.refresh()
    backbone, result = fit_visual_embeddings(images, cfg, checkpoint=ckpt, progress=report)
    if bar is not None:
        bar.close()
    if not ctx.is_main:
        ctx.barrier()  # returns once rank 0 has written the folder
        return result
    test_features = result.pop('test_features')
    atomic_torch_save(backbone.state_dict(), out / 'backbone.pt')
    result.update(command=command, versions=library_versions(), peak_rss_mb=peak_rss_mb(),
                  device=cfg.device, threads=torch.get_num_threads())
    if plot:
        from ..plotting import scatter_embedding
        path = scatter_embedding(test_features, images.test_y, out / 'test_map.png',
                                 title=f'{images.name}: test features (2-D map)')
        result['plot'] = str(path)
    atomic_write_json(out / 'result.json', result)
    ctx.barrier()
    return result


def _silent(message: str) -> None:
    return None
