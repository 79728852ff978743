"""Image distillation: a backbone's features into the small CNN on the vision task's views."""
import json

import pytest
import torch

from genurl_pyg.cli import main
from genurl_pyg.distill import (DistillConfig, GenURLDistiller, distill_image_embeddings,
                                image_views, load_image_teacher)
from genurl_pyg.vision.backbones import SmallCNN
from genurl_pyg.vision.data import ImageData

from ..vision.test_trainer import toy_images
from .test_distiller import _knn, builder_p

SMALL = dict(cnn_width=4, out_channels=16, batch_size=64, k=10, lr=3e-3, device='cpu')
CNN = dict(SMALL, student='cnn')  # a DistillConfig's (distill_image_embeddings' default)


def _class_teacher(y, seed=0):
    """Teacher features that hold the class (four centres) plus noise: its kNN graph joins
    images of one class, which a student that reads the bars can reproduce."""
    g = torch.Generator().manual_seed(seed)
    centres = 4 * torch.randn(4, 8, generator=g)
    return centres[y] + torch.randn(y.numel(), 8, generator=g)


def test_student_cnn_recovers_the_teachers_neighbourhoods():
    torch.manual_seed(0)
    x, y = toy_images(256, 0)
    t = _class_teacher(y)
    d = GenURLDistiller(t, x, DistillConfig.from_dict({**CNN, 'epochs': 15}),
                        views=image_views(x, {'crop_scale': (0.5, 1.0)}))

    def same_cluster(z, k=10):
        """Share of each image's k nearest (by z) in its teacher cluster: the teacher's
        neighbourhoods are its clusters (0.999 for the teacher itself), while which members
        are nearest is the teacher's noise, which no student can know."""
        return (y[_knn(z, k)] == y[:, None]).float().mean().item()
    untrained = same_cluster(d.embed())
    d.fit()
    trained = same_cluster(d.embed())
    # measured (seeds 0 / 1): 0.33 / 0.46 untrained, 0.72 / 0.68 trained; chance 0.25
    assert trained > 0.55, trained
    assert trained > untrained + 0.15, (untrained, trained)


def test_new_images_are_embedded_unaugmented_and_checked():
    x, y = toy_images(96, 0)
    d = distill_image_embeddings(x, _class_teacher(y), epochs=1, **SMALL)
    # 'auto' on images: the paper's objective (session 48's anchor and pixels' P were
    # withdrawn in session 49 on fresh validation seeds)
    assert (d.cfg.anchor_loss, d.cfg.anchor_weight, d.cfg.input_weight) == ('cosine', 0.0, 0.0)
    assert not hasattr(d.objective, 'anchor')
    anchored = distill_image_embeddings(x, _class_teacher(y), epochs=1, anchor_weight=1.0,
                                        **SMALL)
    assert hasattr(anchored.objective, 'anchor')  # set by hand: the cosine anchor
    new, _ = toy_images(5, 3)
    out = d.embed(new)
    assert out.shape == (5, 16) and torch.isfinite(out).all()
    torch.testing.assert_close(d.embed(new[:1]), out[:1])  # eval mode, no random view
    torch.testing.assert_close(d.embed(new.float() / 255), out)  # float images in [0, 1]
    with pytest.raises(ValueError, match=r'shape \(3, 8, 8\) but the student was trained '
                                         r'on \(3, 16, 16\)'):
        d.embed(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))


@pytest.mark.parametrize('objective', ['mse', 'cosine', 'rkd', 'pkt', 'seed'])
def test_every_peer_trains_the_same_cnn_student(objective):
    x, y = toy_images(96, 0)
    d = distill_image_embeddings(x, _class_teacher(y), epochs=1, objective=objective,
                                 queue_size=64, **SMALL)
    assert isinstance(d.student[0], SmallCNN) and d.student[0].out_channels == 32
    assert len(d.state.losses) == 1 and torch.isfinite(torch.tensor(d.state.losses)).all()


def test_resume_on_images_gives_the_uninterrupted_result(tmp_path):
    x, y = toy_images(96, 0)
    t = _class_teacher(y)
    cfg = DistillConfig.from_dict({**CNN, 'epochs': 3})
    whole = GenURLDistiller(t, x, cfg, views=image_views(x))
    whole.fit()

    class Stop(Exception):
        pass

    def stop_after_2(epoch, loss):
        if epoch == 2:
            raise Stop
    ckpt = tmp_path / 'ckpt.pt'
    first = GenURLDistiller(t, x, cfg, views=image_views(x), progress=stop_after_2)
    with pytest.raises(Stop):
        first.fit(ckpt, checkpoint_every=1)
    second = GenURLDistiller(t, x, cfg, views=image_views(x))
    second.load_checkpoint(ckpt)  # the views' random stream continues where it stopped
    second.fit()
    torch.testing.assert_close(second.embed(), whole.embed())
    assert second.state.losses == pytest.approx(whole.state.losses)


def test_input_weight_on_images_mixes_the_pixels_p_beside_the_teachers():
    """For images P's input part is built on the unaugmented pixels, normalised as embed
    reads them and flattened (the no-teacher student's rows): (1 - w) P_t + w P_pixels,
    checked against the builder run on those rows directly."""
    x, y = toy_images(96, 0)
    t = _class_teacher(y)
    views = image_views(x)
    p_t, p_x = builder_p(t, 10), builder_p(views.normalize(x).flatten(1), 10)
    assert not torch.allclose(p_t, p_x)
    for w in (0.5, 1.0):
        d = GenURLDistiller(t, x, DistillConfig.from_dict({**CNN, 'input_weight': w}),
                            views=views)
        assert torch.allclose(d.objective.sim.to_dense(), (1 - w) * p_t + w * p_x, atol=1e-6)
    plain = GenURLDistiller(t, x, DistillConfig.from_dict({**CNN, 'input_weight': 0}),
                            views=views)
    assert torch.allclose(plain.objective.sim.to_dense(), p_t, atol=1e-6)
    auto = GenURLDistiller(t, x, DistillConfig.from_dict(CNN), views=views)  # the default
    assert torch.allclose(auto.objective.sim.to_dense(), p_t, atol=1e-6)  # the teacher's P
    d = distill_image_embeddings(x, t, epochs=1, input_weight=0.5, **SMALL)  # trains
    assert d.embed().shape == (96, SMALL['out_channels'])


def test_teacher_backbone_module_file_and_ssl_folder(tmp_path):
    x, y = toy_images(96, 0)
    net = SmallCNN(3, width=4).eval()
    normalize = image_views(x).normalize
    with torch.no_grad():
        expected = net(normalize(x))
    d = distill_image_embeddings(x, net, epochs=1, **SMALL)
    torch.testing.assert_close(d.teacher, expected)  # the unaugmented, normalised images
    assert not net.training  # the module is used as given, its mode restored
    torch.save(SmallCNN(3).state_dict(), tmp_path / 'w.pt')  # 'small-cnn' is width 32
    loaded = load_image_teacher(tmp_path / 'w.pt', 3, 'small-cnn')
    assert not any(p.requires_grad for p in loaded.parameters())
    with pytest.raises(ValueError, match='need their architecture'):
        load_image_teacher(tmp_path / 'w.pt', 3)
    with pytest.raises(ValueError, match="do not fit its architecture"):
        load_image_teacher(tmp_path / 'w.pt', 3, 'resnet18')
    run = tmp_path / 'ssl'  # what `genurl-pyg ssl` writes
    run.mkdir()
    torch.save(SmallCNN(3).state_dict(), run / 'backbone.pt')
    (run / 'result.json').write_text(json.dumps({'config': {'backbone': 'small-cnn'}}))
    assert isinstance(load_image_teacher(run, 3), SmallCNN)
    with pytest.raises(ValueError, match="holds a 'small-cnn' backbone, not 'resnet18'"):
        load_image_teacher(run, 3, 'resnet18')
    with pytest.raises(FileNotFoundError, match='not a `genurl-pyg ssl` run folder'):
        load_image_teacher(tmp_path, 3)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_image_teacher(tmp_path / 'absent.pt', 3, 'small-cnn')


def test_bad_image_inputs_are_named():
    x, y = toy_images(96, 0)
    t = _class_teacher(y)
    with pytest.raises(ValueError, match="image rows need 'views'"):
        GenURLDistiller(t, x, DistillConfig.from_dict(CNN))
    with pytest.raises(ValueError, match="'feature_mask' masks feature columns"):
        distill_image_embeddings(x, t, epochs=1, feature_mask=0.2, **SMALL)
    with pytest.raises(ValueError, match="'bank_k' looks node features up"):
        distill_image_embeddings(x, t, epochs=1, bank_k=5, **SMALL)
    with pytest.raises(ValueError, match="need distill config 'student: cnn', got 'mlp'"):
        distill_image_embeddings(x, t, epochs=1, student='mlp', **SMALL)
    with pytest.raises(ValueError, match="95 rows but the student's input has 96"):
        distill_image_embeddings(x, t[:95], epochs=1, **SMALL)
    bad = t.clone()
    bad[3, 1] = float('nan')
    with pytest.raises(ValueError, match='NaN'):
        distill_image_embeddings(x, bad, epochs=1, **SMALL)
    with pytest.raises(ValueError, match=r'images \[N, C, H, W\] with C = 1 or 3'):
        distill_image_embeddings(x[:, :2], t, epochs=1, **SMALL)
    with pytest.raises(ValueError, match="'views' applies to image rows"):
        GenURLDistiller(t, torch.randn(96, 5), DistillConfig(), views=image_views(x))
    with pytest.raises(ValueError, match="'student: cnn' reads images"):
        GenURLDistiller(t, torch.randn(96, 5), DistillConfig(student='cnn', batch_size=32))


def _toy_set():
    x, y = toy_images(128, 0)
    xt, yt = toy_images(64, 1)
    return ImageData('toy', x, y, xt, yt, ['a', 'b', 'c', 'd'])


def test_image_job_writes_its_folder_and_resume_skips_seeds(tmp_path, monkeypatch):
    from genurl_pyg.distill import run as run_module
    from genurl_pyg.vision import data as data_module
    monkeypatch.setattr(data_module, 'load_images', lambda name, root=None: _toy_set())
    run = tmp_path / 'ssl'
    run.mkdir()
    torch.save(SmallCNN(3).state_dict(), run / 'backbone.pt')  # 'small-cnn': width 32
    (run / 'result.json').write_text(json.dumps({'config': {'backbone': 'small-cnn'}}))
    cfg = DistillConfig.from_dict({**CNN, 'epochs': 1})
    out = tmp_path / 'kd'
    r = run_module.distill_images_job('toy', str(run), cfg, 2, out, progress=False,
                                      log=lambda m: None)
    assert r['seeds'] == [0, 1] and r['train_images'] == 128
    for key in ('student_knn', 'student_linear', 'teacher_knn', 'teacher_linear'):
        assert 0 <= r[key]['mean'] <= 1
    assert (out / 'students' / 'seed1.pt').is_file() and (out / 'result.json').is_file()
    with pytest.raises(FileExistsError, match='--resume'):
        run_module.distill_images_job('toy', str(run), cfg, 2, out, progress=False,
                                      log=lambda m: None)
    lines = []
    again = run_module.distill_images_job('toy', str(run), cfg, 2, out, resume=True,
                                          progress=False, log=lines.append)
    assert sum('already finished' in m for m in lines) == 2
    assert again['student_knn'] == r['student_knn']
    viewed = run_module.distill_images_job(  # the teacher module reads the student's views
        'toy', str(run), DistillConfig.from_dict({**CNN, 'epochs': 1, 'pairs': 'block',
                                                  'teacher_views': True}),
        1, tmp_path / 'kd_views', progress=False, log=lambda m: None)
    assert viewed['config']['teacher_views'] is True
    with pytest.raises(ValueError, match='differs in subset'):
        run_module.distill_images_job('toy', str(run), cfg, 2, out, subset=64, resume=True,
                                      progress=False, log=lambda m: None)


@pytest.mark.parametrize('argv,match', [
    (['--dataset', 'fashion-mnist', '--setting', 'inductive'], 'holds out graph nodes'),
    (['--dataset', 'fashion-mnist', '--student', 'mlp'], "student 'mlp' does not read"),
    (['--dataset', 'Cora', '--student', 'cnn'], "student 'cnn' does not read 'Cora'"),
    (['--dataset', 'Cora', '--subset', '100'], 'apply to image sets'),
])
def test_cli_distill_image_errors_are_one_line(tmp_path, capsys, argv, match):
    assert main(['distill', *argv, '--teacher', str(tmp_path), '--out',
                 str(tmp_path / 'o')]) == 2
    err = capsys.readouterr().err
    assert match in err and 'Traceback' not in err


def test_cli_distill_on_an_image_set_writes_its_result(tmp_path, monkeypatch, capsys):
    from genurl_pyg.vision import data as data_module
    monkeypatch.setattr(data_module, 'load_images', lambda name, root=None: _toy_set())
    run = tmp_path / 'ssl'
    run.mkdir()
    torch.save(SmallCNN(3).state_dict(), run / 'backbone.pt')
    (run / 'result.json').write_text(json.dumps({'config': {'backbone': 'small-cnn'}}))
    out = tmp_path / 'kd'
    assert main(['distill', '--dataset', 'fashion-mnist', '--teacher', str(run), '--seeds',
                 '1', '--set', 'epochs=1', '--set', 'cnn_width=4', '--set', 'batch_size=64',
                 '--no-progress', '--out', str(out), '--threads', '1']) == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / 'result.json').read_text())
    assert saved['config']['student'] == 'cnn' and saved['seeds'] == [0]
    assert f"student kNN {100 * saved['student_knn']['mean']:.2f}" in printed


def test_resume_with_a_projector_gives_the_uninterrupted_result(tmp_path):
    """The head's weights and BatchNorm statistics travel in the checkpoint with the
    objective's state."""
    x, y = toy_images(96, 0)
    t = _class_teacher(y)
    cfg = DistillConfig.from_dict({**CNN, 'epochs': 2, 'projector_hidden': 32,
                                   'projector_out': 8})
    whole = GenURLDistiller(t, x, cfg, views=image_views(x))
    whole.fit()
    ckpt = tmp_path / 'ckpt.pt'
    first = GenURLDistiller(t, x, cfg, views=image_views(x))
    first.run_epoch()  # one epoch, saved; a fresh distiller resumes from the file
    first.state.epoch = 1
    first.save_checkpoint(ckpt)
    second = GenURLDistiller(t, x, cfg, views=image_views(x))
    second.load_checkpoint(ckpt)
    torch.testing.assert_close(second.objective.to_q[1].running_mean,
                               first.objective.to_q[1].running_mean)
    second.fit()
    torch.testing.assert_close(second.embed(), whole.embed())
