"""Tables and images for dimension reduction: bundled, mirrored or user files."""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from .paths import data_root, seed_from_mirror

TABULAR = ('digits', 'mnist', 'coauthor-cs')


def read_idx(path: Path, offset: int) -> np.ndarray:
    """The bytes of a gzipped idx file after its ``offset``-byte header (16 for images, 8
    for labels), as ``uint8``."""
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
    X = read_idx(img, 16).reshape(-1, 784).astype(np.float32) / 255.0
    y = read_idx(lab, 8).astype(np.int64)
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
        y = _read_array(Path(labels), 'labels')
        if y.ndim == 2 and y.shape[1] != 1 and y.shape[0] != 1:
            raise ValueError(f'--labels must hold one column, got shape {y.shape}')
        y = y.reshape(-1)
        if len(y) != len(X):
            raise ValueError(f'--labels has {len(y)} entries but the data has {len(X)} rows')
    return X, y


def check_labels(y, n_rows: int, what: str = '--labels') -> np.ndarray:
    """Labels usable for the class metrics (5-NN accuracy, silhouette): one finite number
    per row, at least two classes, and fewer classes than rows. Raises naming ``what``."""
    y = np.asarray(y).reshape(-1)
    if len(y) != n_rows:
        raise ValueError(f'{what} has {len(y)} entries but the data has {n_rows} rows')
    if y.dtype.kind not in 'biuf':
        raise ValueError(f'{what} must hold numbers (class ids), got dtype {y.dtype}')
    if y.dtype.kind == 'f':
        if not np.isfinite(y).all():
            raise ValueError(f'{what} holds NaN or infinite values (row '
                             f'{int(np.flatnonzero(~np.isfinite(y))[0])})')
        if not np.all(y == np.round(y)):
            raise ValueError(f'{what} must hold whole-number class ids, got fractional values')
        y = y.astype(np.int64)
    classes = len(np.unique(y))
    if classes < 2:
        raise ValueError(f'{what} holds a single class; the class metrics need at least two')
    if classes >= n_rows:
        raise ValueError(f'{what} gives every row its own class ({classes} classes for '
                         f'{n_rows} rows); class metrics need classes shared by several rows')
    return y


def _read_array(path: Path, what: str) -> np.ndarray:
    flag = '--data' if what == 'data' else '--labels'
    if path.is_dir():
        raise ValueError(f"{flag} {str(path)!r} is a folder; give a .npy or .csv file")
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {str(path)!r} does not exist (or use one of "
                                f"{', '.join(TABULAR)})")
    if path.suffix == '.npy':
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(f'{flag} {path} is not a readable .npy array file ({exc})') from exc
    if path.suffix == '.csv':
        return _read_csv(path, flag)
    raise ValueError(f"{what} file must end in .npy or .csv, got {path.name!r}")


def _read_csv(path: Path, flag: str) -> np.ndarray:
    """A numeric CSV with an optional header row, always as a 2-D array (one column or one
    row stays 2-D). A non-numeric cell is reported by row and column (and header name)."""
    import csv
    try:
        with open(path, newline='') as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f'{flag} {path} cannot be read as text ({exc})') from exc
    if not rows:
        raise ValueError(f'{flag} {path} is empty')
    header = None

    def numeric(cell: str) -> bool:
        try:
            float(cell)
            return True
        except ValueError:
            return False
    if not all(numeric(c) for c in rows[0]):
        header, rows = rows[0], rows[1:]
        if not rows:
            raise ValueError(f'{flag} {path} has a header row but no data rows')
    width = len(rows[0])
    values = np.empty((len(rows), width), dtype=np.float64)
    for i, row in enumerate(rows):
        line = i + (2 if header else 1)
        if len(row) != width:
            raise ValueError(f'{flag} {path}: line {line} has {len(row)} columns, the first '
                             f'data row has {width}')
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell)
            except ValueError:
                name = f" ({header[j]!r})" if header and j < len(header) else ''
                raise ValueError(f'{flag} {path}: column {j + 1}{name} holds text '
                                 f'({cell.strip()!r} on line {line}); every cell must be a '
                                 'number') from None
    return values
