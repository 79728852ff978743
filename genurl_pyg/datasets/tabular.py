"""Tables and images for dimension reduction: bundled, mirrored or user files."""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from .paths import data_root, seed_from_mirror

TABULAR = ('digits', 'mnist', 'coauthor-cs')


def _read_idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load_mnist_test(root: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
    """The 10k MNIST test images as ``[10000, 784]`` floats in [0, 1], and their labels."""
    base = data_root(root)
    seed_from_mirror('mnist/MNIST', base)
    raw = base / 'mnist' / 'MNIST' / 'raw'
    img, lab = raw / 't10k-images-idx3-ubyte.gz', raw / 't10k-labels-idx1-ubyte.gz'
    if not img.is_file() or not lab.is_file():
        raise FileNotFoundError(f'MNIST test files not found in {raw}; place '
                                't10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz '
                                'there or set GENURL_DATA_MIRROR to a folder holding '
                                'mnist/MNIST/raw')
    X = _read_idx(img, 16).reshape(-1, 784).astype(np.float32) / 255.0
    y = _read_idx(lab, 8).astype(np.int64)
    return X, y


def load_table(name: str, root: Optional[str] = None,
               labels: Optional[str] = None) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """``'digits'``, ``'mnist'``, ``'coauthor-cs'`` or a ``.npy``/``.csv`` file path.

    Returns ``(X, y)``; ``y`` from the data set or from the ``labels`` file (``.npy`` or a
    one-column ``.csv``), else ``None``.
    """
    y = None
    if name == 'digits':
        from sklearn.datasets import load_digits
        X, y = load_digits(return_X_y=True)
        X = X.astype(np.float32)
    elif name == 'mnist':
        X, y = load_mnist_test(root)
    elif name == 'coauthor-cs':
        from .registry import load_dataset
        data = load_dataset('CS', root)
        X, y = data.x.numpy(), data.y.numpy()
    else:
        X = _read_array(Path(name), 'data')
    if labels is not None:
        y = _read_array(Path(labels), 'labels').reshape(-1)
        if len(y) != len(X):
            raise ValueError(f'--labels has {len(y)} entries but the data has {len(X)} rows')
    return X, y


def _read_array(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {str(path)!r} does not exist (or use one of "
                                f"{', '.join(TABULAR)})")
    if path.suffix == '.npy':
        return np.load(path, allow_pickle=False)
    if path.suffix == '.csv':
        try:
            arr = np.genfromtxt(path, delimiter=',', dtype=np.float64)
        except ValueError as exc:
            raise ValueError(f'{path} is not a numeric CSV file: {exc}') from exc
        if arr.ndim == 2 and np.isnan(arr[0]).all():
            arr = arr[1:]  # a header row
        elif arr.ndim == 1 and np.isnan(arr[0]):
            arr = arr[1:]
        return arr
    raise ValueError(f"{what} file must end in .npy or .csv, got {path.name!r}")
