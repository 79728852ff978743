"""YAML reading for configs and ``--set`` values, with YAML 1.2's number syntax.

PyYAML implements YAML 1.1, whose float pattern needs a dot and a signed exponent: it reads
``1e-3`` and ``5e4`` as *strings*. Every user writes learning rates that way, so our loader
adds YAML 1.2's float pattern (``1e-3``, ``1E+5``, ``.5``, ``.inf``, ``.nan``).
"""
from __future__ import annotations

import re
from typing import Any

import yaml

_FLOAT_12 = re.compile(r'''^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$''', re.X)


class _Loader(yaml.SafeLoader):
    """SafeLoader whose implicit floats follow YAML 1.2 (integers still resolve as ints)."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != 'tag:yaml.org,2002:float']
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver('tag:yaml.org,2002:float', _FLOAT_12,
                              list('-+0123456789.'))
# Integers must win over the float pattern for plain digits: resolvers are tried in order,
# and add_implicit_resolver appends, so re-append int's resolver in front of float's.
for _first in '-+0123456789':
    _rs = _Loader.yaml_implicit_resolvers.setdefault(_first, [])
    _ints = [r for r in _rs if r[0] == 'tag:yaml.org,2002:int']
    _Loader.yaml_implicit_resolvers[_first] = _ints + [r for r in _rs if r not in _ints]


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with YAML 1.2 floats (``1e-3`` is 0.001, not a string)."""
    return yaml.load(text, Loader=_Loader)


def load_mapping(path, error: type = ValueError) -> dict:
    """The mapping in the YAML file ``path`` (``{}`` for an empty file); ``error`` (a
    ``ValueError`` subclass, e.g. the config's own) names the file and what is wrong with it:
    missing, a folder, unreadable, not YAML, or not a mapping."""
    from pathlib import Path
    path = Path(path)
    if path.is_dir():
        raise error(f"config file {str(path)!r} is a folder, not a YAML file")
    if not path.is_file():
        raise error(f"config file {str(path)!r} does not exist")
    try:
        values = safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"config file {str(path)!r} cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise error(f"config file {str(path)!r} is not valid YAML: {exc}") from exc
    if values is not None and not isinstance(values, dict):
        raise error(f"config file {str(path)!r} must hold a mapping of keys to values")
    return values or {}


def parse_key_values(items, flag: str = '--set', error: type = ValueError) -> dict:
    """``['lr=1e-3', 'crop_scale=[0.5,1]']`` -> ``{'lr': 0.001, 'crop_scale': [0.5, 1]}``:
    command-line ``KEY=VALUE`` items, each value read as YAML (:func:`safe_load`), keys
    stripped. ``error`` (a ``ValueError`` subclass) names ``flag`` and the item for an item
    without ``=`` or a value that is not YAML."""
    out = {}
    for item in items:
        if '=' not in item:
            raise error(f"{flag} expects KEY=VALUE, got {item!r}")
        key, value = item.split('=', 1)
        try:
            out[key.strip()] = safe_load(value)
        except yaml.YAMLError as exc:
            raise error(f"{flag} {key}: cannot parse {value!r}: {exc}") from exc
    return out
