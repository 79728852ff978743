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
