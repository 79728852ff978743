import os
from pathlib import Path

import pytest

from genurl_pyg.datasets import (DatasetCorruptError, DatasetNotFoundError, get_spec,
                                 list_datasets, load_dataset)
from genurl_pyg.datasets.paths import data_root, seed_from_mirror


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv('GENURL_DATA', str(tmp_path / 'env'))
    assert data_root(str(tmp_path / 'flag')) == tmp_path / 'flag'
    assert data_root() == tmp_path / 'env'
    monkeypatch.delenv('GENURL_DATA')
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    assert data_root() == tmp_path / 'cache' / 'genurl_pyg' / 'data'


def test_seed_from_mirror_copies_once_and_never_overwrites(monkeypatch, tmp_path):
    mirror = tmp_path / 'mirror'
    (mirror / 'g' / 'd' / 'raw').mkdir(parents=True)
    (mirror / 'g' / 'd' / 'raw' / 'a.bin').write_bytes(b'mirror')
    os.chmod(mirror / 'g' / 'd' / 'raw' / 'a.bin', 0o444)
    monkeypatch.setenv('GENURL_DATA_MIRROR', str(mirror))
    root = tmp_path / 'root'
    assert seed_from_mirror('g/d', root) == mirror / 'g' / 'd'
    target = root / 'g' / 'd' / 'raw' / 'a.bin'
    assert target.read_bytes() == b'mirror' and os.access(target, os.W_OK)
    target.write_bytes(b'local edit')
    seed_from_mirror('g/d', root)
    assert target.read_bytes() == b'local edit'
    assert seed_from_mirror('g/missing', root) is None


def test_unknown_name_lists_known():
    with pytest.raises(ValueError, match='known data sets: Cora'):
        get_spec('Corra')
    assert get_spec('cora').name == 'Cora' and get_spec('KARATE').name == 'KarateClub'


def test_karate_is_bundled():
    data = load_dataset('KarateClub')
    assert data.num_nodes == 34


@pytest.mark.skipif(not os.environ.get('GENURL_DATA_MIRROR'), reason='needs the data mirror')
def test_cora_from_mirror(monkeypatch, tmp_path):
    monkeypatch.setenv('GENURL_DATA', str(tmp_path))
    data = load_dataset('Cora')
    assert (data.num_nodes, data.num_edges, int(data.train_mask.sum())) == (2708, 10556, 140)
    assert (tmp_path / 'planetoid' / 'Cora' / 'processed').is_dir()


@pytest.mark.skipif(not os.environ.get('GENURL_DATA_MIRROR'), reason='needs the data mirror')
def test_a_second_process_waits_while_the_first_processes(monkeypatch, tmp_path):
    """Two runs started at once on a fresh data root: the second waits for the lock the
    first holds while it writes processed/, then loads, instead of reading a half cache."""
    import subprocess
    import sys
    import time
    from genurl_pyg.datasets.registry import _exclusive
    monkeypatch.setenv('GENURL_DATA', str(tmp_path))
    assert seed_from_mirror('planetoid/Cora', tmp_path) is not None
    folder = tmp_path / 'planetoid' / 'Cora'
    assert (folder / 'raw').is_dir() and not (folder / 'processed').exists()
    code = ('from genurl_pyg.datasets import load_dataset\nprint("ready", flush=True)\n'
            'print(load_dataset("Cora").num_nodes, flush=True)')
    with _exclusive(tmp_path / 'planetoid', 'Cora'):  # this test plays the first process
        child = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE,
                                 text=True, env={**os.environ, 'GENURL_DATA': str(tmp_path)})
        assert child.stdout.readline().strip() == 'ready'
        deadline = time.monotonic() + 6.0  # without the lock Cora loads in ~3 s here
        while time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.2)
        assert child.poll() is None  # blocked on the lock
        assert not (folder / 'processed').exists()
    out, _ = child.communicate(timeout=120)
    assert child.returncode == 0 and out.strip() == '2708'


def test_a_download_waits_for_the_lock_and_leaves_the_folder_to_the_loader(tmp_path):
    """The download path (no raw files, no mirror) takes the same lock, held beside the
    data set's folder: a second process waits before its loader runs, and the lock creates
    no folder the loader (OGB's outdated-copy check) would see."""
    import subprocess
    import sys
    import time
    from genurl_pyg.datasets.registry import _exclusive
    marker = tmp_path / 'loader_ran'
    code = ('import sys\nfrom pathlib import Path\nimport genurl_pyg.datasets.registry as r\n'
            'def loader(root, spec):\n'
            '    Path(sys.argv[1]).write_text(str(sorted(p.name for p in root.iterdir())))\n'
            "spec = r.DatasetSpec('Fake', 'fakegroup', 'Fake', 'public', loader)\n"
            'r.get_spec = lambda name: spec\n'
            'print("ready", flush=True)\n'
            "r.load_dataset('Fake')\n")
    env = {k: v for k, v in os.environ.items() if k != 'GENURL_DATA_MIRROR'}
    env['GENURL_DATA'] = str(tmp_path / 'root')
    with _exclusive(tmp_path / 'root' / 'fakegroup', 'Fake'):  # the first process
        child = subprocess.Popen([sys.executable, '-c', code, str(marker)],
                                 stdout=subprocess.PIPE, text=True, env=env)
        assert child.stdout.readline().strip() == 'ready'
        time.sleep(2.0)  # without the lock the loader runs within milliseconds of 'ready'
        assert child.poll() is None and not marker.exists()
    child.communicate(timeout=60)
    assert child.returncode == 0
    assert marker.read_text() == "['.Fake.genurl.lock']"  # no 'Fake' folder made for it


@pytest.mark.skipif(not os.environ.get('GENURL_DATA_MIRROR'), reason='needs the data mirror')
def test_truncated_processed_cache_says_what_to_delete(monkeypatch, tmp_path):
    monkeypatch.setenv('GENURL_DATA', str(tmp_path))
    load_dataset('Cora')
    processed = tmp_path / 'planetoid' / 'Cora' / 'processed'
    target = processed / 'data.pt'
    target.write_bytes(target.read_bytes()[:1000])  # a first run killed while writing
    with pytest.raises(DatasetCorruptError) as exc:
        load_dataset('Cora')
    assert str(processed) in str(exc.value) and 'delete' in str(exc.value)


def test_registry_and_readme_agree_on_protocols():
    readme = (Path(__file__).resolve().parents[2] / 'datasets' / 'README.md').read_text()
    words = {'public': 'public split', 'random-10/10/80': 'random 10/10/80',
             'random-50/25/25': 'random 50/25/25', 'ogb-official': 'OGB official split',
             'ogb-link': 'OGB link split', 'official-10-splits': '10 official splits'}
    rows = [line for line in readme.splitlines() if line.startswith('| ')]
    for name, spec in list_datasets().items():
        row = next(r for r in rows if name in r.split('|')[1])
        assert words[spec.protocol] in row, (name, spec.protocol, row)


def test_offline_failure_message(monkeypatch, tmp_path):
    monkeypatch.setenv('GENURL_DATA_MIRROR', str(tmp_path / 'nothing'))
    from torch_geometric.datasets import Amazon

    def offline(self):
        raise OSError('no network')
    monkeypatch.setattr(Amazon, 'download', offline)
    with pytest.raises(DatasetNotFoundError) as exc:
        load_dataset('Photo', root=str(tmp_path / 'root'))
    msg = str(exc.value)
    assert str(tmp_path / 'root' / 'amazon' / 'Photo') in msg
    assert 'GENURL_DATA_MIRROR' in msg and 'raw' in msg
