import json
import math
import os
import stat

import pytest

from genurl_pyg.utils.io import atomic_write_json, atomic_write_text, ensure_writable_dir


def test_strict_json_never_writes_nan(tmp_path):
    path = tmp_path / 'm.json'
    atomic_write_json(path, {'a': 1.5})
    for bad in ({'a': math.nan}, {'a': [1, math.inf]}):
        with pytest.raises(ValueError, match='NaN or infinity'):
            atomic_write_json(path, bad)
    assert json.loads(path.read_text()) == {'a': 1.5}  # the earlier file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ['m.json']  # no temporary left behind


@pytest.mark.parametrize('mask', [0o022, 0o077, 0o002])
def test_files_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / 'f.txt', 'x')
        with open(tmp_path / 'plain.txt', 'w') as f:
            f.write('x')
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / 'f.txt').stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / 'plain.txt').stat().st_mode) == 0o666 & ~mask


def test_writable_dir_checks(tmp_path):
    assert ensure_writable_dir(tmp_path / 'a' / 'b').is_dir()
    (tmp_path / 'file').write_text('x')
    with pytest.raises(ValueError, match='is a file'):
        ensure_writable_dir(tmp_path / 'file')
    with pytest.raises(ValueError, match='is a file'):
        ensure_writable_dir(tmp_path / 'file' / 'sub')
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / 'ro'
        ro.mkdir()
        ro.chmod(0o555)
        try:
            with pytest.raises(ValueError, match='not writable'):
                ensure_writable_dir(ro / 'out', '--out')
        finally:
            ro.chmod(0o755)
