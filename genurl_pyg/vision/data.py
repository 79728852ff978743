r"""Image data sets for self-supervised visual learning, decoded once into cached tensors.

Every set loads as :class:`ImageData`: ``uint8`` images ``[N, C, H, W]`` and ``int64``
labels for a training and a test split, plus the per-channel mean and standard deviation of
the training images (for normalisation on the device). The first load decodes the raw files
and writes ``<root>/<folder>/processed/images.pt``; later loads read that one file (a few
hundred MB at most: CIFAR-10 is 184 MB), so no epoch decodes a JPEG or unzips an idx file.

======================  ======================================================  ===========
name                    source                                                  split
======================  ======================================================  ===========
``cifar10-jpeg``        ``cifar10_jpeg/cifar10-jpeg.tar.xz`` (the mirror; JPEG   50k / 10k
                        re-encodings of CIFAR-10: compare methods run on it,
                        never with published CIFAR-10 numbers)
``fashion-mnist``       ``fashion_mnist/FashionMNIST/raw/*-idx?-ubyte.gz``        60k / 10k
``mnist-test``          ``mnist/MNIST/raw/t10k-*.gz`` (the test set only,         8k / 2k
                        split 80/20 by a fixed permutation: not MNIST's split)
``cifar10``             torchvision ``CIFAR10`` (downloads where there is         50k / 10k
                        internet)
``cifar100``            torchvision ``CIFAR100``                                  50k / 10k
``stl10``               torchvision ``STL10``, labelled ``train`` / ``test``      5k / 8k
                        (the 100k unlabelled images are not loaded)
======================  ======================================================  ===========

Data root and mirror follow the graphs' rules (:mod:`genurl_pyg.datasets.paths`): ``root``
argument, else ``$GENURL_DATA``; raw files missing from the root are copied from
``$GENURL_DATA_MIRROR`` on first use. A set that is neither there nor downloadable raises
:class:`FileNotFoundError` naming what to place where.
"""
from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from ..datasets.paths import data_root, seed_from_mirror
from ..datasets.tabular import read_idx
from ..utils.io import atomic_torch_save

CACHE_VERSION = 1  # bump when the cached layout changes: older caches are rebuilt


@dataclass
class ImageData:
    """Images as ``uint8`` ``[N, C, H, W]`` tensors with ``int64`` labels."""
    name: str
    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    classes: List[str]
    note: str = ''

    @property
    def shape(self) -> Tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.train_x.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def channel_stats(self) -> Tuple[Tensor, Tensor]:
        """Per-channel mean and standard deviation of the training images in [0, 1]
        (:func:`channel_stats`)."""
        return channel_stats(self.train_x)

    def __repr__(self) -> str:
        c, h, w = self.shape
        return (f'ImageData({self.name}: train {self.train_x.size(0)}, test '
                f'{self.test_x.size(0)}, {c}x{h}x{w}, {self.num_classes} classes)')


def channel_stats(images: Tensor) -> Tuple[Tensor, Tensor]:
    """Per-channel mean and standard deviation of ``[N, C, H, W]`` images in [0, 1]
    (``uint8`` images are divided by 255): O(N·C·H·W), computed in chunks of 4,096 images
    (float64 sums)."""
    c = images.size(1)
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    scale = 255.0 if images.dtype == torch.uint8 else 1.0
    for chunk in images.split(4096):
        v = chunk.cpu().double().div_(scale).transpose(0, 1).reshape(c, -1)
        total += v.sum(1)
        total_sq += v.square().sum(1)
    count = images.numel() / c
    mean = total / count
    std = (total_sq / count - mean.square()).clamp_min(0).sqrt()
    return mean.float(), std.float()


# -- raw readers -------------------------------------------------------------------------------

def _idx_pair(raw: Path, prefix: str) -> Tuple[Tensor, Tensor]:
    images = read_idx(raw / f'{prefix}-images-idx3-ubyte.gz', 16).reshape(-1, 1, 28, 28)
    labels = read_idx(raw / f'{prefix}-labels-idx1-ubyte.gz', 8)
    if len(images) != len(labels):
        raise ValueError(f'{raw}: {len(images)} images but {len(labels)} labels')
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def _require(paths: List[Path], what: str, hint: str) -> None:
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f'{what}: {", ".join(missing)} not found in '
                                f'{paths[0].parent}; {hint}')


FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
                   'Sneaker', 'Bag', 'Ankle boot']
CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse',
                   'ship', 'truck']


def _fashion_mnist(base: Path) -> Dict:
    seed_from_mirror('fashion_mnist/FashionMNIST', base)
    raw = base / 'fashion_mnist' / 'FashionMNIST' / 'raw'
    _require([raw / f'{p}-{k}-idx{d}-ubyte.gz' for p in ('train', 't10k')
              for k, d in (('images', 3), ('labels', 1))], 'Fashion-MNIST',
             'place the four idx .gz files there or set GENURL_DATA_MIRROR to a folder '
             'holding fashion_mnist/FashionMNIST/raw')
    tx, ty = _idx_pair(raw, 'train')
    vx, vy = _idx_pair(raw, 't10k')
    return dict(train_x=tx, train_y=ty, test_x=vx, test_y=vy, classes=FASHION_CLASSES)


def _mnist_test(base: Path) -> Dict:
    seed_from_mirror('mnist/MNIST', base)
    raw = base / 'mnist' / 'MNIST' / 'raw'
    _require([raw / 't10k-images-idx3-ubyte.gz', raw / 't10k-labels-idx1-ubyte.gz'],
             'MNIST test set', 'place t10k-images-idx3-ubyte.gz and '
             't10k-labels-idx1-ubyte.gz there or set GENURL_DATA_MIRROR to a folder holding '
             'mnist/MNIST/raw')
    x, y = _idx_pair(raw, 't10k')
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    train, test = order[:8000], order[8000:]
    return dict(train_x=x[train], train_y=y[train], test_x=x[test], test_y=y[test],
                classes=[str(i) for i in range(10)],
                note='MNIST test images only, split 8,000 / 2,000 by a fixed permutation')


def _cifar10_jpeg(base: Path) -> Dict:
    seed_from_mirror('cifar10_jpeg', base)
    archive = base / 'cifar10_jpeg' / 'cifar10-jpeg.tar.xz'
    _require([archive], 'CIFAR-10 (JPEG copy)', 'place cifar10-jpeg.tar.xz there or set '
             'GENURL_DATA_MIRROR to a folder holding cifar10_jpeg/')
    from PIL import Image
    parts: Dict[str, Tuple[List[np.ndarray], List[int]]] = {'train': ([], []),
                                                            'test': ([], [])}
    index = {c: i for i, c in enumerate(CIFAR10_CLASSES)}
    with tarfile.open(archive) as tar:  # sequential reads: an .xz archive cannot seek
        for member in tar:
            if not member.isfile() or not member.name.lower().endswith('.jpg'):
                continue
            split, cls = Path(member.name).parts[-3:-1]
            if split not in parts or cls not in index:
                continue
            with Image.open(io.BytesIO(tar.extractfile(member).read())) as im:
                parts[split][0].append(np.asarray(im.convert('RGB'), dtype=np.uint8))
            parts[split][1].append(index[cls])
    out = {}
    for split, (images, labels) in parts.items():
        if not images:
            raise ValueError(f'{archive}: no {split}/<class>/*.jpg images inside')
        out[f'{split}_x'] = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
        out[f'{split}_y'] = torch.tensor(labels, dtype=torch.int64)
    return dict(out, classes=CIFAR10_CLASSES,
                note='JPEG re-encodings (quality about 75) of CIFAR-10: compare methods run '
                     'on it, never with published CIFAR-10 numbers')


def _torchvision(cls_name: str, folder: str, splits=('train', 'test')) -> Callable:
    def load(base: Path) -> Dict:
        from .._optional import require
        tv = require('torchvision', 'vision')
        cls = getattr(tv.datasets, cls_name)
        out = {}
        for key, split in zip(('train', 'test'), splits):
            kwargs = ({'split': split} if cls_name == 'STL10'
                      else {'train': split == 'train'})
            try:
                ds = cls(root=str(base / folder), download=True, **kwargs)
            except Exception as err:  # offline: the download fails with a network error
                raise FileNotFoundError(
                    f'{cls_name} is not in {base / folder} and could not be downloaded '
                    f'({type(err).__name__}: {err}); offline, use cifar10-jpeg or '
                    f'fashion-mnist from GENURL_DATA_MIRROR') from err
            data = np.asarray(ds.data)
            if data.ndim == 4 and data.shape[-1] == 3:  # CIFAR: N, H, W, C
                data = data.transpose(0, 3, 1, 2)
            labels = np.asarray(getattr(ds, 'targets', getattr(ds, 'labels', None)))
            out[f'{key}_x'] = torch.from_numpy(np.ascontiguousarray(data, dtype=np.uint8))
            out[f'{key}_y'] = torch.from_numpy(labels.astype(np.int64))
            out['classes'] = list(ds.classes)
        return out
    return load


# name -> (folder under the data root, loader)
IMAGE_DATASETS: Dict[str, Tuple[str, Callable[[Path], Dict]]] = {
    'cifar10-jpeg': ('cifar10_jpeg', _cifar10_jpeg),
    'fashion-mnist': ('fashion_mnist', _fashion_mnist),
    'mnist-test': ('mnist', _mnist_test),
    'cifar10': ('cifar10', _torchvision('CIFAR10', 'cifar10')),
    'cifar100': ('cifar100', _torchvision('CIFAR100', 'cifar100')),
    'stl10': ('stl10', _torchvision('STL10', 'stl10')),
}


def load_images(name: str, root: Optional[str] = None) -> ImageData:
    """Loads an image data set by name (case-insensitive; see the module doc), decoding the
    raw files only on the first call. Raises :class:`ValueError` for an unknown name and
    :class:`FileNotFoundError` when the files are missing."""
    key = str(name).lower()
    if key not in IMAGE_DATASETS:
        raise ValueError(f'unknown image data set {name!r}; known: '
                         f'{", ".join(IMAGE_DATASETS)}')
    folder, loader = IMAGE_DATASETS[key]
    base = data_root(root)
    cache = base / folder / 'processed' / f'images_{key}.pt'
    if cache.is_file():
        blob = torch.load(cache, weights_only=True)
        if blob.get('version') == CACHE_VERSION:
            return _to_data(key, blob)
    blob = dict(loader(base), version=CACHE_VERSION)
    _check(key, blob)
    cache.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(blob, cache)
    return _to_data(key, blob)


def _check(name: str, blob: Dict) -> None:
    for split in ('train', 'test'):
        x, y = blob[f'{split}_x'], blob[f'{split}_y']
        if x.dtype != torch.uint8 or x.dim() != 4 or x.size(1) not in (1, 3):
            raise ValueError(f'{name}: {split} images must be uint8 [N, 1 or 3, H, W], got '
                             f'{x.dtype} {tuple(x.shape)}')
        if y.shape != (x.size(0),):
            raise ValueError(f'{name}: {split} has {x.size(0)} images but {y.numel()} labels')


def _to_data(name: str, blob: Dict) -> ImageData:
    return ImageData(name=name, train_x=blob['train_x'], train_y=blob['train_y'],
                     test_x=blob['test_x'], test_y=blob['test_y'],
                     classes=list(blob['classes']), note=blob.get('note', ''))
