"""Bad input and damaged run folders: one clear line, exit code 2, and nothing written or
lost (issue 11). KarateClub is bundled with PyG, so these run without the data mirror."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from genurl_pyg.cli import build_parser, main

KARATE = ['--dataset', 'KarateClub', '--no-progress', '--set', 'k=5',
          '--set', 'hidden_channels=16', '--set', 'out_channels=8']


def _train(out, *extra, epochs='2', seeds='1'):
    return main(['train', *KARATE, '--epochs', epochs, '--seeds', seeds, '--out', str(out),
                 *extra])


def _error(capsys):
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    return err


@pytest.mark.parametrize('key, value', [('dropout', '.nan'), ('lam', '.nan'),
                                        ('nu_latent', '.nan'), ('lr', '.inf'),
                                        ('alpha', '.inf'), ('view_weight', '-.inf')])
def test_non_finite_config_is_refused_before_anything_is_written(tmp_path, capsys, key, value):
    out = tmp_path / 'run'
    assert _train(out, '--set', f'{key}={value}') == 2
    assert f"config '{key}'" in _error(capsys)
    assert not out.exists()


def test_yaml_12_numbers_in_set_and_config_files(tmp_path, capsys):
    cfg = tmp_path / 'c.yaml'
    cfg.write_text('weight_decay: 5e-4\n')
    assert main(['config', '--dataset', 'Cora', '--set', 'lr=1e-3', '--config', str(cfg)]) == 0
    out = capsys.readouterr().out
    assert 'lr: 0.001' in out and 'weight_decay: 0.0005' in out


@pytest.mark.parametrize('argv, message', [
    (['train', '--dataset', 'Cora', '--set', 'lamda=0.5'], "'lamda' (did you mean 'lam'?)"),
    (['train', '--dataset', 'Cora', '--device', 'gpu'], "'cpu', 'cuda' or 'cuda:<index>'"),
    (['train', '--dataset', 'Cora', '--seeds', '0'], '--seeds must be >= 1'),
    (['eval', '--dataset', 'KarateClub', '--embeddings', 'x.pt', '--seeds', '0'],
     '--seeds must be >= 1'),
    (['train', '--dataset', 'Cora', '--threads', '0'], '--threads must be >= 1'),
])
def test_clear_errors(argv, message, capsys):
    assert main(argv) == 2
    assert message in _error(capsys)


def test_config_file_that_is_a_folder_or_unreadable(tmp_path, capsys):
    assert main(['config', '--dataset', 'Cora', '--config', str(tmp_path)]) == 2
    assert 'is a folder' in _error(capsys)
    bad = tmp_path / 'latin1.yaml'
    bad.write_bytes(b'lr: \xff\xfe\n')
    assert main(['config', '--dataset', 'Cora', '--config', str(bad)]) == 2
    err = _error(capsys)
    assert str(bad) in err and 'cannot be read' in err


def test_out_under_a_file(tmp_path, capsys):
    (tmp_path / 'f').write_text('x')
    assert _train(tmp_path / 'f' / 'run') == 2
    assert 'is a file' in _error(capsys)
    assert main(['embed', '--data', 'digits', '--out', str(tmp_path / 'f'), '--no-progress']) == 2
    assert 'is a file' in _error(capsys)


def test_resume_of_another_data_set_is_refused(tmp_path, capsys):
    out = tmp_path / 'run'
    assert _train(out) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    record = json.loads((out / 'progress.json').read_text())
    assert record['run']['dataset'] == 'KarateClub' and 'genurl_pyg' in record['run']
    # Pretend the folder holds a Cora run; resuming it as KarateClub must name the difference.
    for name in ('progress.json', 'result.json'):
        data = json.loads((out / name).read_text())
        data['run']['dataset'] = 'Cora'
        (out / name).write_text(json.dumps(data))
    capsys.readouterr()
    assert _train(out, '--resume') == 2
    err = _error(capsys)
    assert "dataset: 'Cora' there, 'KarateClub' now" in err
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert set(after) == set(before) and after['embeddings.pt'] == before['embeddings.pt']


def test_resume_with_another_config_names_the_keys(tmp_path, capsys):
    out = tmp_path / 'run'
    assert _train(out) == 0
    capsys.readouterr()
    assert _train(out, '--resume', '--set', 'alpha=0.7') == 2
    err = _error(capsys)
    assert 'different config' in err and 'alpha: ' in err and '-> 0.7' in err


def test_unfinished_run_is_not_overwritten_without_resume(tmp_path, capsys):
    out = tmp_path / 'run'
    assert _train(out) == 0
    (out / 'result.json').unlink()
    capsys.readouterr()
    assert _train(out) == 2
    assert 'already holds a run (progress.json)' in _error(capsys)


def test_damaged_progress_file_is_named(tmp_path, capsys):
    out = tmp_path / 'run'
    assert _train(out) == 0
    (out / 'result.json').unlink()
    (out / 'progress.json').write_text('{"seeds": {')
    capsys.readouterr()
    assert _train(out, '--resume') == 2
    assert str(out / 'progress.json') in _error(capsys)


def test_corrupt_checkpoint_on_resume(tmp_path, capsys):
    out = tmp_path / 'run'
    (out / 'checkpoints').mkdir(parents=True)
    (out / 'checkpoints' / 'seed0.pt').write_bytes(b'PK\x03\x04 truncated')
    assert _train(out, '--resume') == 2
    err = _error(capsys)
    assert 'checkpoint' in err and 'delete it' in err and 'weights_only' not in err


def test_eval_of_a_corrupt_or_foreign_file(tmp_path, capsys):
    bad = tmp_path / 'e.pt'
    bad.write_bytes(b'\x80\x04 not a torch file')
    assert main(['eval', '--dataset', 'KarateClub', '--embeddings', str(bad)]) == 2
    err = _error(capsys)
    assert 'cannot be read' in err and 'weights_only' not in err
    torch.save(torch.nn.Linear(2, 2), bad)  # a pickled module: refused by weights-only loading
    assert main(['eval', '--dataset', 'KarateClub', '--embeddings', str(bad)]) == 2
    assert 'weights_only' not in _error(capsys)
    assert main(['eval', '--dataset', 'KarateClub', '--embeddings', str(tmp_path)]) == 2
    assert 'is a folder' in _error(capsys)


def test_plot_of_a_finished_seed_is_produced_on_resume(tmp_path):
    out = tmp_path / 'run'
    assert _train(out, '--plot', seeds='2') == 0
    first = json.loads((out / 'result.json').read_text())
    for name in ('embeddings.png', 'result.json', 'embeddings.pt'):
        (out / name).unlink()  # as if killed during the plot of the first seed
    assert _train(out, '--plot', '--resume', seeds='2') == 0
    assert (out / 'embeddings.png').stat().st_size > 1000
    assert torch.equal(torch.load(out / 'embeddings.pt'), torch.load(out / 'embeddings' / 'seed0.pt'))
    assert json.loads((out / 'result.json').read_text())['accuracy'] == first['accuracy']


def test_seed_with_a_missing_embedding_file_is_trained_again(tmp_path, capsys):
    out = tmp_path / 'run'
    assert _train(out, seeds='2') == 0
    (out / 'result.json').unlink()
    (out / 'embeddings' / 'seed1.pt').unlink()
    capsys.readouterr()
    assert _train(out, '--resume', seeds='2') == 0
    err = capsys.readouterr().err
    assert 'seed 1: its embeddings file is missing' in err and (out / 'embeddings' / 'seed1.pt').is_file()


def test_resumed_seed_reports_its_whole_time(tmp_path):
    from genurl_pyg.datasets import load_dataset
    from genurl_pyg.node import NodeEmbeddingTrainer
    from genurl_pyg.node.run import train_job
    from genurl_pyg.cli import build_parser, resolve_config
    args = build_parser().parse_args(['train', *KARATE, '--epochs', '3'])
    cfg = resolve_config(args)
    out = tmp_path / 'run'
    trainer = NodeEmbeddingTrainer(load_dataset('KarateClub'), cfg)
    trainer.run_epoch()
    trainer.state.epoch = 1
    trainer.state.seconds = 100.0  # as if an earlier process had spent 100 s on this seed
    trainer.save_checkpoint(out / 'checkpoints' / 'seed0.pt')
    result = train_job('KarateClub', cfg, 1, out, resume=True, progress=False, log=lambda m: None)
    assert 100.0 < result['seconds_per_seed']['mean'] < 200.0


def test_embed_checks_labels_before_fitting_and_writes_nothing(tmp_path, capsys):
    from sklearn.datasets import load_digits
    X, _ = load_digits(return_X_y=True)
    data = tmp_path / 'x.npy'
    np.save(data, X[:200])
    out = tmp_path / 'emb'
    for labels, message in ((np.zeros(200), 'single class'), (np.arange(200), 'own class'),
                            (np.r_[np.nan, np.zeros(199)], 'NaN')):
        np.save(tmp_path / 'y.npy', labels)
        assert main(['embed', '--data', str(data), '--labels', str(tmp_path / 'y.npy'),
                     '--out', str(out), '--no-progress']) == 2
        err = _error(capsys)
        assert '--labels' in err and message in err
        assert not (out / 'embedding.npy').exists()


@pytest.mark.parametrize('setting, message', [('learning_rate=.inf', "'learning_rate'"),
                                              ('learning_rate=1e30', 'learning_rate')])
def test_embed_never_writes_a_nan_embedding(tmp_path, capsys, setting, message):
    out = tmp_path / 'emb'
    assert main(['embed', '--data', 'digits', '--out', str(out), '--no-progress',
                 '--set', setting, '--set', 'n_epochs=2']) == 2
    assert message in _error(capsys)
    assert not (out / 'embedding.npy').exists() and not (out / 'metrics.json').exists()


def test_embed_on_an_empty_csv(tmp_path, capsys):
    (tmp_path / 'e.csv').write_text('')
    assert main(['embed', '--data', str(tmp_path / 'e.csv'), '--out', str(tmp_path / 'o')]) == 2
    assert 'is empty' in _error(capsys)


def test_threads_option(tmp_path):
    before = torch.get_num_threads()
    try:
        assert _train(tmp_path / 'run', '--threads', '1') == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_singular_seed_and_phase_progress(tmp_path, capsys):
    assert main(['train', *KARATE[:2], '--epochs', '2', '--seeds', '1', '--out',
                 str(tmp_path / 'run'), '--set', 'k=5']) == 0
    captured = capsys.readouterr()
    assert '1 seed)' in captured.out and '1 seeds' not in captured.out
    assert 'building P and the model' in captured.err and 'linear probe: done' in captured.err
    assert 'memory plan: budget' in captured.err and 'P graph part' in captured.err
    plan = json.loads((tmp_path / 'run' / 'result.json').read_text())['memory_plan']
    assert plan['peak_mb'] <= plan['budget_mb'] and plan['stages']


def test_every_option_has_help_text():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == 'command')
    for name, p in sub.choices.items():
        for action in p._actions:
            if action.dest != 'help':
                assert action.help, f'{name} {action.option_strings} has no help text'


def test_help_does_not_import_torch():
    code = ('import sys; from genurl_pyg.cli import build_parser; build_parser().format_help(); '
            "print(sorted(m for m in ('torch', 'torch_geometric', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[]'
