"""Atomic file writes: a run killed mid-write never leaves a half-written result."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it: set, then restore at once
    os.umask(mask)
    return mask


def ensure_writable_dir(path: Path, what: str = '--out') -> Path:
    """Creates folder ``path`` (and parents) or raises a ``ValueError`` that names ``what``
    and the reason: a file in the way, or no write permission. Called before any work, so
    a long run never fails at its first write."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f'{what} {str(path)!r} is a file, not a folder')
    anchor = path
    while not anchor.exists():
        anchor = anchor.parent
    if not anchor.is_dir():
        raise ValueError(f'{what} {str(path)!r} cannot be created: {str(anchor)!r} is a file')
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise ValueError(f'{what} {str(path)!r} is not writable: no write permission in '
                         f'{str(anchor)!r}')
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f'{what} {str(path)!r} cannot be created: {exc.strerror or exc}') from exc
    return path


def atomic_write(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Calls ``write(f)`` on a temporary file beside ``path``, then renames it over ``path``
    (parents created); on any error the temporary file is removed and ``path`` untouched.
    The file gets the permissions of a plain ``open()`` under the user's umask (``mkstemp``
    alone would leave it readable by its owner only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def atomic_write_json(path: Path, obj: Any) -> None:
    """Strict JSON: NaN or infinity anywhere in ``obj`` is an error, never written."""
    try:
        text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f'refusing to write {path}: it would hold NaN or infinity, which '
                         'strict JSON cannot represent') from exc
    atomic_write_text(path, text + '\n')


def atomic_save_npy(path: Path, array) -> None:
    import numpy as np
    atomic_write(path, lambda f: np.save(f, array))


def atomic_torch_save(obj: Any, path: Path) -> None:
    atomic_write(path, lambda f: torch.save(obj, f))


def read_json_object(path: Path) -> dict:
    """The JSON object in a run folder's bookkeeping file; a damaged file, or one that does
    not hold an object, is a ``ValueError`` that says to choose another ``--out``."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f'{path} cannot be read ({exc}); it is not a file this version '
                         'wrote, or it was damaged: choose another --out') from exc
    if not isinstance(value, dict):
        raise ValueError(f'{path} does not hold a JSON object; choose another --out')
    return value


def load_torch_file(path: Path, what: str, map_location='cpu'):
    """``torch.load`` weights-only (tensors and plain containers, no arbitrary code), with
    one clear ``ValueError`` naming ``what`` and the file when it is truncated or foreign."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle, zip and EOF errors differ by torch version
        raise ValueError(f'{what} {str(path)!r} cannot be read: it is truncated, corrupt or '
                         f'not a file written by torch.save ({type(exc).__name__})') from exc


def read_checkpoint(path: Path, keys, config: dict, map_location=None,
                    what: str = 'genurl-pyg checkpoint',
                    advice: str = 'delete it to restart from scratch') -> dict:
    """A checkpoint dict read weights-only (tensors and plain containers, no arbitrary code),
    checked before anything is restored: a truncated or foreign file, missing ``keys``, or a
    ``config`` other than the one it was written with is a ``ValueError`` that names the
    problem (for a config, every differing key) and ends with ``advice``."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle, zip and EOF errors differ by torch version
        raise ValueError(f'checkpoint {path} cannot be read (it is truncated, corrupt or not a '
                         f'{what}: {type(exc).__name__}); {advice}') from exc
    missing = [k for k in keys if not isinstance(state, dict) or k not in state]
    if missing:
        raise ValueError(f'checkpoint {path} is not a {what} (missing {missing}); {advice}')
    if state['config'] != config:
        from ..node.config import config_differences
        diff = config_differences(state['config'], config)
        raise ValueError(f'checkpoint {path} was written with a different config '
                         f"({'; '.join(diff)}); resume needs the same config, or {advice}")
    return state
