"""The SSL benchmark's report: rows compare only within one budget (preset, training
images, epochs), and GenURL rows that ran another P (the teacher's kNN) or Q (unbounded) are
labelled apart from the current defaults (views only, Q on the radius-2 sphere); every
GenURL row is judged against the peers of its budget."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import ssl_benchmark as sb  # noqa: E402


def row(method, knn, linear, images=60000, epochs=30, config=None, spe=100.0):
    r = {'preset': 'cpu-fmnist', 'method': method, 'seed': 0, 'epochs': epochs,
         'train_images': images, 'knn': knn, 'linear': linear, 'seconds_per_epoch': spe,
         'images_per_second': 1.0, 'peak_rss_mb': 1.0}
    if config is not None:
        r['config'] = config
    return r


def test_labels_and_budgets():
    assert sb.method_label(row('simclr', 0.8, 0.8)) == 'simclr'
    # legacy rows without a config ran the teacher's kNN in P and the unbounded Q
    assert sb.method_label(row('genurl', 0.8, 0.8)) == \
        'genurl (view_weight 0.5, latent_radius 0)'
    assert sb.method_label(row('genurl', 0.8, 0.8, config={'view_weight': 1.0})) == \
        'genurl (latent_radius 0)'
    assert sb.method_label(row('genurl', 0.8, 0.8, config={
        'view_weight': 1.0, 'latent_radius': 2.0})) == 'genurl'
    assert sb.method_label(row('genurl', 0.8, 0.8, config={
        'view_weight': 0.3, 'latent_radius': 2.0})) == 'genurl (view_weight 0.3)'
    assert sb.budget(row('byol', 0.8, 0.8, images=10000, epochs=20)) == \
        ('cpu-fmnist', 10000, 20)


def test_report_keeps_budgets_apart_and_judges_the_default(tmp_path, monkeypatch):
    monkeypatch.setattr(sb, 'RESULTS', tmp_path)
    monkeypatch.setattr(sb, 'write_results', lambda stem, payload, text: (
        tmp_path / f'{stem}.md').write_text(text))
    full = {'command': 'full', 'versions': {'torch': 'x'},
            'rows': [row('genurl', 0.786, 0.879), row('simclr', 0.826, 0.886)]}
    small = {'command': 'small', 'versions': {'torch': 'x'},
             'rows': [row('genurl', 0.75, 0.87, 10000, 20,
                          {'view_weight': 1.0, 'latent_radius': 2.0}, spe=30.0),
                      row('simclr', 0.74, 0.86, 10000, 20, spe=31.0),
                      row('byol', 0.76, 0.85, 10000, 20, spe=40.0)]}
    paths = []
    for i, state in enumerate((full, small)):
        paths.append(tmp_path / f'{i}.json')
        paths[-1].write_text(json.dumps(state))
    sb.report([str(p) for p in paths])
    lines = (tmp_path / 'ssl_benchmark.md').read_text().splitlines()
    table = [ln for ln in lines if ln.startswith('| cpu-fmnist')]
    assert len(table) == 5  # no row of one budget merged into another's cell
    legacy = next(ln for ln in table if 'view_weight 0.5' in ln)
    assert '(60,000)' in legacy and '**missed** (knn, linear)' in legacy  # still marked
    default = next(ln for ln in table if '| genurl |' in ln)
    assert '(10,000)' in default and '**missed** (knn)' in default  # BYOL's kNN is higher


def test_report_stem_writes_a_table_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr(sb, 'RESULTS', tmp_path)
    monkeypatch.setattr(sb, 'write_results', lambda stem, payload, text: (
        tmp_path / f'{stem}.md').write_text(text))
    state = {'command': 'curve', 'versions': {'torch': 'x'},
             'rows': [row('genurl', 0.75, 0.87, 10000, 40, {'view_weight': 1.0}),
                      row('byol', 0.76, 0.86, 10000, 40)]}
    path = tmp_path / 'curve.json'
    path.write_text(json.dumps(state))
    sb.report([str(path)], stem='ssl_budget')
    assert (tmp_path / 'ssl_budget.md').exists() and not (tmp_path / 'ssl_benchmark.md').exists()
    monkeypatch.setattr(sys, 'argv', ['ssl_benchmark.py', '--report-stem', 'x'])
    with pytest.raises(SystemExit):
        sb.main()  # a stem without --report is refused, nothing run


def test_a_saved_backbone_is_a_distillation_teacher(tmp_path):
    import torch
    from genurl_pyg.distill import load_image_teacher
    from genurl_pyg.vision.backbones import build_backbone
    torch.manual_seed(0)
    backbone, _ = build_backbone('small-cnn', 1)
    r = dict(row('genurl', 0.8, 0.9, config={'backbone': 'small-cnn'}), losses=[1.0])
    folder = sb.save_backbone(backbone, r, tmp_path)
    assert folder == tmp_path / 'cpu-fmnist-genurl-s0'
    saved = json.loads((folder / 'result.json').read_text())
    assert 'losses' not in saved and saved['knn'] == 0.8
    teacher = load_image_teacher(folder, in_channels=1)  # read as a `genurl-pyg ssl` run
    x = torch.rand(4, 1, 28, 28)
    backbone.eval()
    with torch.no_grad():
        assert torch.allclose(teacher(x), backbone(x))
    with pytest.raises(FileExistsError, match='already holds a backbone'):
        sb.save_backbone(backbone, r, tmp_path)  # never overwritten


def test_a_taken_backbone_folder_is_refused_before_training(tmp_path, monkeypatch):
    taken = sb.backbone_folder(tmp_path / 'b', 'cpu-fmnist', 'simclr', 0)
    taken.mkdir(parents=True)
    (taken / 'backbone.pt').write_bytes(b'x')

    def must_not_train(*a, **k):
        raise AssertionError('trained although the backbone folder was taken')
    monkeypatch.setattr(sb, 'run_one', must_not_train)
    monkeypatch.setattr(sys, 'argv', ['ssl_benchmark.py', '--methods', 'genurl', 'simclr',
                                      '--out', str(tmp_path / 'o.json'),
                                      '--save-backbones', str(tmp_path / 'b')])
    with pytest.raises(SystemExit, match='cpu-fmnist-simclr-s0 already holds a backbone'):
        sb.main()
    assert (taken / 'backbone.pt').read_bytes() == b'x' and not (tmp_path / 'o.json').exists()
