"""fit_visual_embeddings and the `genurl-pyg ssl` command."""
import torch

from genurl_pyg import fit_visual_embeddings
from genurl_pyg.cli import main
from genurl_pyg.vision.backbones import SmallCNN
from genurl_pyg.vision.config import SSLConfig

from .test_trainer import FAST, toy_data


def test_fit_visual_embeddings_returns_a_backbone_and_scores():
    data = toy_data()
    backbone, result = fit_visual_embeddings(data, SSLConfig(**FAST),
                                             backbone=SmallCNN(3, width=4), epochs=2)
    assert backbone(torch.zeros(2, 3, 16, 16)).shape == (2, 32)
    assert result['epochs'] == 2 and len(result['losses']) == 2
    assert 0 <= result['knn_accuracy'] <= 1 and 0 <= result['linear_accuracy'] <= 1
    assert result['images_per_second'] > 0 and result['test_features'].shape == (128, 32)


def test_ssl_command_errors_are_one_line(tmp_path, capsys):
    assert main(['ssl', '--dataset', 'imagenet', '--out', str(tmp_path / 'a')]) == 2
    assert "unknown image data set 'imagenet'" in capsys.readouterr().err
    assert main(['ssl', '--dataset', 'mnist-test', '--set', 'epoch=3',
                 '--out', str(tmp_path / 'b')]) == 2
    assert "unknown ssl config key(s) 'epoch'" in capsys.readouterr().err
    out = tmp_path / 'c'
    out.mkdir()
    (out / 'checkpoint.pt').write_bytes(b'earlier run')
    assert main(['ssl', '--dataset', 'mnist-test', '--out', str(out)]) == 2
    assert '--resume' in capsys.readouterr().err
    assert (out / 'checkpoint.pt').read_bytes() == b'earlier run'  # nothing lost


def test_ssl_help_names_the_data_sets(capsys):
    import pytest
    with pytest.raises(SystemExit):
        main(['ssl', '--help'])
    text = capsys.readouterr().out
    assert 'cifar10-jpeg' in text and 'fashion-mnist' in text and '--resume' in text


def test_ssl_job_writes_its_folder_and_resumes(tmp_path, monkeypatch):
    import json
    from genurl_pyg.vision import run as run_module
    data = toy_data()
    monkeypatch.setattr(run_module, 'load_images', lambda name, root=None: data)
    cfg = SSLConfig(**dict(FAST, epochs=2, backbone='small-cnn', monitor_every=0))
    out = tmp_path / 'run'
    result = run_module.ssl_job('toy', cfg, out, plot=True, progress=False, log=lambda m: None)
    for name in ('result.json', 'backbone.pt', 'checkpoint.pt', 'test_map.png'):
        assert (out / name).is_file(), name
    saved = json.loads((out / 'result.json').read_text())
    assert saved['knn_accuracy'] == result['knn_accuracy'] and 'versions' in saved
    assert 'test_features' not in saved and saved['epochs'] == 2
    again = run_module.ssl_job('toy', cfg, out, resume=True, progress=False,
                               log=lambda m: None)  # finished: nothing left to train
    assert again['losses'] == result['losses']
