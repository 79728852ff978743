import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from genurl_pyg.cli import main
from genurl_pyg.node.config import NodeConfig

REPO = Path(__file__).resolve().parents[1]
MIRROR = os.environ.get('GENURL_DATA_MIRROR')
needs_mirror = pytest.mark.skipif(
    not MIRROR or not Path(MIRROR, 'planetoid', 'Cora').is_dir(),
    reason='needs GENURL_DATA_MIRROR with planetoid/Cora (../shared/datasets)')


@pytest.mark.parametrize('command', [[], ['train'], ['eval'], ['config'], ['embed'], ['datasets']])
def test_help_of_every_command(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main(command + ['--help'])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert 'usage: genurl-pyg' in out
    if command == ['train']:
        assert 'examples:' in out and '--resume' in out


def test_config_round_trip(tmp_path, capsys):
    cfg = NodeConfig(encoder='sage', lam=0.25, epochs=7, views=False)
    path = tmp_path / 'c.yaml'
    path.write_text(cfg.to_yaml())
    assert NodeConfig.from_yaml(path) == cfg
    assert main(['config', '--dataset', 'Cora', '--config', str(path), '--set', 'k=7']) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed['encoder'] == 'sage' and printed['k'] == 7 and printed['lam'] == 0.25


@pytest.mark.parametrize('argv, message', [
    (['train', '--dataset', 'NoSuchGraph'], 'unknown data set'),
    (['train', '--dataset', 'Cora', '--set', 'lam=2'], "config 'lam'"),
    (['train', '--dataset', 'Cora', '--set', 'encoder=transformer'], "config 'encoder'"),
    (['train', '--dataset', 'Cora', '--set', 'colour=blue'], 'unknown config key'),
    (['train', '--dataset', 'Cora', '--set', 'novalue'], 'KEY=VALUE'),
    (['train', '--dataset', 'Cora', '--config', 'missing.yaml'], 'does not exist'),
    (['eval', '--dataset', 'Cora', '--embeddings', 'missing.pt'], 'does not exist'),
])
def test_bad_input_exits_2_without_traceback(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and 'Traceback' not in err


def test_missing_data_offline_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('GENURL_DATA', str(tmp_path / 'data'))
    monkeypatch.setenv('GENURL_DATA_MIRROR', str(tmp_path / 'empty-mirror'))
    from torch_geometric.datasets import Planetoid

    def offline(self):
        raise OSError('network is unreachable')
    monkeypatch.setattr(Planetoid, 'download', offline)
    assert main(['train', '--dataset', 'CiteSeer', '--epochs', '1', '--seeds', '1',
                 '--out', str(tmp_path / 'run')]) == 2
    err = capsys.readouterr().err
    assert 'not found offline' in err and 'GENURL_DATA_MIRROR' in err
    assert str(tmp_path / 'data' / 'planetoid' / 'CiteSeer') in err
    assert not (tmp_path / 'run' / 'result.json').exists()


def test_malformed_config_file(tmp_path, capsys):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('epochs: [1, 2\n')
    assert main(['train', '--dataset', 'Cora', '--config', str(bad)]) == 2
    assert 'not valid YAML' in capsys.readouterr().err


@needs_mirror
def test_kill_then_resume(tmp_path):
    env = dict(os.environ, GENURL_DATA=str(tmp_path / 'data'), PYTHONUNBUFFERED='1')
    out = tmp_path / 'run'
    argv = [sys.executable, '-m', 'genurl_pyg', 'train', '--dataset', 'Cora', '--seeds', '1',
            '--epochs', '40', '--out', str(out), '--no-progress',
            # A narrow model keeps this test about process control, not training speed.
            '--set', 'hidden_channels=64', '--set', 'out_channels=64',
            '--set', 'projector_channels=32', '--set', 'num_pos=2000', '--set', 'num_neg=4000']
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ckpt = out / 'checkpoints' / 'seed0.pt'
    deadline = time.time() + 240
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert ckpt.exists(), proc.stderr.read().decode() if proc.poll() is not None else 'timeout'
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / 'result.json').exists()
    assert not list(out.rglob('*.tmp'))  # no half-written files
    first_epoch = torch.load(ckpt, weights_only=False)['epoch']
    assert first_epoch >= 25
    resumed = subprocess.run(argv + ['--resume'], env=env, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f'resuming from epoch {first_epoch}' in resumed.stderr
    result = json.loads((out / 'result.json').read_text())
    assert result['dataset'] == 'Cora' and 0 <= result['accuracy']['mean'] <= 1
    assert not ckpt.exists()


def test_embed_on_npy_file(tmp_path, capsys):
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    np_x, np_y = tmp_path / 'x.npy', tmp_path / 'y.csv'
    import numpy as np
    np.save(np_x, X[:300])
    np.savetxt(np_y, y[:300], delimiter=',', header='label', comments='')
    out = tmp_path / 'emb'
    assert main(['embed', '--data', str(np_x), '--labels', str(np_y), '--out', str(out),
                 '--set', 'n_epochs=3', '--no-progress', '--plot']) == 0
    emb = np.load(out / 'embedding.npy')
    assert emb.shape == (300, 2)
    metrics = json.loads((out / 'metrics.json').read_text())
    assert 0 <= metrics['trustworthiness_10'] <= 1 and 'knn5_accuracy' in metrics
    assert (out / 'embedding.png').stat().st_size > 1000
    assert main(['embed', '--data', str(np_x), '--set', 'colour=1', '--out', str(out)]) == 2
    assert 'unknown GenURLEmbedding parameter' in capsys.readouterr().err
    assert main(['embed', '--data', str(tmp_path / 'nope.npy'), '--out', str(out)]) == 2


def test_train_on_bundled_karate(tmp_path):
    out = tmp_path / 'karate'
    assert main(['train', '--dataset', 'KarateClub', '--seeds', '2', '--epochs', '3',
                 '--out', str(out), '--no-progress', '--set', 'k=5',
                 '--set', 'hidden_channels=16', '--set', 'out_channels=8']) == 0
    result = json.loads((out / 'result.json').read_text())
    assert result['protocol'] == 'random-50/25/25' and len(result['accuracy']['per_seed']) == 2
    assert main(['eval', '--embeddings', str(out / 'embeddings.pt'), '--dataset', 'KarateClub',
                 '--seeds', '3']) == 0
    assert main(['train', '--dataset', 'KarateClub', '--seeds', '1', '--epochs', '3',
                 '--out', str(out), '--no-progress']) == 2  # result.json exists: no overwrite


def test_resume_after_every_seed_finished_rebuilds_the_result(tmp_path, capsys):
    # Killed after the last seed's progress record but before result.json: --resume must
    # write the result from the records without training again.
    out = tmp_path / 'karate'
    argv = ['train', '--dataset', 'KarateClub', '--seeds', '2', '--epochs', '2', '--out',
            str(out), '--no-progress', '--set', 'k=5', '--set', 'hidden_channels=16',
            '--set', 'out_channels=8']
    assert main(argv) == 0
    first = json.loads((out / 'result.json').read_text())
    (out / 'result.json').unlink()
    capsys.readouterr()
    assert main(argv + ['--resume']) == 0
    assert capsys.readouterr().err.count('already finished') == 2
    again = json.loads((out / 'result.json').read_text())
    assert again['accuracy'] == first['accuracy'] and again['metric'] == 'accuracy'
    # A resume under another config is refused, and the finished run is left as it was.
    assert main(argv[:-1] + ['out_channels=4', '--resume']) == 2
    assert 'different config' in capsys.readouterr().err
    assert json.loads((out / 'result.json').read_text()) == again
