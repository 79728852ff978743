"""Where data sets live: the writable data root and the optional read-only raw-file mirror.

* Data root: the ``root`` argument (CLI ``--root``), else ``$GENURL_DATA``, else
  ``$XDG_CACHE_HOME/genurl_pyg/data`` (``~/.cache/genurl_pyg/data``). Loaders write
  ``processed/`` there.
* Mirror: ``$GENURL_DATA_MIRROR``, a read-only tree laid out like the data root (for example
  ``../shared/datasets``). A data set missing from the root is copied from it on first use.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional


def data_root(root: Optional[str] = None) -> Path:
    if root:
        return Path(root).expanduser()
    env = os.environ.get('GENURL_DATA')
    if env:
        return Path(env).expanduser()
    cache = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(cache) / 'genurl_pyg' / 'data'


def mirror_root() -> Optional[Path]:
    env = os.environ.get('GENURL_DATA_MIRROR')
    return Path(env).expanduser() if env else None


def seed_from_mirror(relative: str, root: Path) -> Optional[Path]:
    """Copies ``mirror/relative`` to ``root/relative`` unless already there.

    Returns the mirror folder that was used, or ``None`` if there is no mirror copy. Files
    already in the root are never overwritten; copied files get write permission so the
    loaders can add ``processed/`` beside them.
    """
    mirror = mirror_root()
    if mirror is None or not (mirror / relative).exists():
        return None
    src, dst = mirror / relative, root / relative
    for path in src.rglob('*'):
        if not path.is_file():
            continue
        target = dst / path.relative_to(src)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + '.part')
        shutil.copyfile(path, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)  # atomic: an interrupted copy never leaves a half file
    return src
