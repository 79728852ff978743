"""experiments/ssl_branches.py: a branch continued from the shared trunk is the run it
stands for (the views-only branch equals an uninterrupted views-only run, loss for loss),
its scores are on the held-out images, and overrides that would change what the trunk
trained are refused."""
import json
import sys
from pathlib import Path

import pytest

from genurl_pyg.vision.config import SSLConfig
from genurl_pyg.vision.trainer import VisualTrainer

from ..vision.test_trainer import toy_data

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import ssl_branches as sb  # noqa: E402

SMALL = dict(sb.PRESET, batch_size=64, projector_hidden=32, projector_out=16,
             warmup_epochs=1, knn_k=20, views={'crop_scale': (0.5, 1.0)})


@pytest.fixture
def toy(monkeypatch):
    data = toy_data()
    def images(smoke=0, train_images=0, dataset='fashion-mnist'):
        # --train-images keeps the first N toy images; --dataset is recorded, not loaded
        if not train_images:
            return data
        return type(data)(data.name, data.train_x[:train_images], data.train_y[:train_images],
                          data.test_x, data.test_y, data.classes)
    monkeypatch.setattr(sb, 'validation_data', images)
    monkeypatch.setattr(sb, 'PRESET', SMALL)
    return data


def args(out, *extra):
    return ['--out', str(out), '--epochs', '3', '--branch-epoch', '2', *extra]


def test_the_views_branch_is_the_uninterrupted_views_only_run(toy, tmp_path, monkeypatch):
    sb.main(['trunk', *args(tmp_path)])
    sb.main(['branch', 'views', 'view_weight=1', *args(tmp_path)])
    sb.main(['branch', 'teacher', 'view_weight=0.5', *args(tmp_path)])
    sb.main(['branch', 'ema', 'view_weight=1', 'target=ema', 'predictor_hidden=8',
             *args(tmp_path)])
    views = json.loads((tmp_path / 'branch_views.json').read_text())
    teacher = json.loads((tmp_path / 'branch_teacher.json').read_text())
    ema = json.loads((tmp_path / 'branch_ema.json').read_text())
    whole = VisualTrainer(toy, SSLConfig.from_dict(dict(SMALL, epochs=3, seed=0,
                                                        view_weight=1.0, knn_start=2)))
    whole.fit()
    assert views['losses'] == whole.state.losses
    assert teacher['losses'][:2] == views['losses'][:2]  # the shared trunk
    assert teacher['losses'][2] != views['losses'][2]  # the teacher's kNN joined P
    # the EMA-target branch: the same trunk, then a predictor and a target from epoch 2
    assert ema['losses'][:2] == views['losses'][:2] and ema['losses'][2] != views['losses'][2]
    assert ema['config']['target'] == 'ema' and 0.0 <= ema['linear_val'] <= 1.0
    assert views['validation_images'] == toy.test_x.size(0)
    assert 0.0 <= views['knn_val'] <= 1.0 and views['overrides'] == {'view_weight': 1.0}
    written = {}
    monkeypatch.setattr(sb, 'write_results', lambda stem, payload, md: written.update(
        stem=stem, rows=payload['rows'], md=md))
    sb.main(['report', '--out', str(tmp_path), '--stem', 'late', '--conditions', 'core 1'])
    assert written['stem'] == 'late' and len(written['rows']) == 3
    table = [ln for ln in written['md'].splitlines() if ln.startswith('| teacher')]
    assert f"{100 * teacher['knn_val']:.2f}" in table[0] and 'Conditions: core 1' in written['md']
    assert '| 0.5 views + teacher kNN from 2 |' in table[0]  # the P it trained with
    assert '| views only |' in [ln for ln in written['md'].splitlines()
                                if ln.startswith('| views')][0]


def test_bad_branches_are_refused(toy, tmp_path):
    # a branch that does not say its P would inherit the trunk's teacher kNN (session 60)
    with pytest.raises(SystemExit, match="branch 'alpha2' must set view_weight: the trunk's "
                                         "0.5 would put the EMA teacher's kNN into P"):
        sb.main(['branch', 'alpha2', 'alpha=2', *args(tmp_path)])
    with pytest.raises(SystemExit, match='no branch_'):
        sb.main(['report', '--out', str(tmp_path)])
    with pytest.raises(SystemExit, match='no trunk checkpoint.*run the trunk first'):
        sb.main(['branch', 'views', 'view_weight=1', *args(tmp_path)])
    with pytest.raises(SystemExit, match="'projector_out' would change what the trunk"):
        sb.parse_overrides(['projector_out=64'])
    with pytest.raises(SystemExit, match='not KEY=VALUE'):
        sb.parse_overrides(['view_weight'])
    small = tmp_path / 'small'
    sb.main(['trunk', *args(small, '--train-images', '128')])
    with pytest.raises(SystemExit, match="the trunk saw 256 images in 2 epochs, this branch "
                                         "expects 512: pass the trunk's --train-images"):
        sb.main(['branch', 'views', 'view_weight=1', *args(small)])
    sb.main(['branch', 'views', 'view_weight=1', *args(small, '--train-images', '128')])
    assert (small / 'branch_views.json').is_file()
    sb.main(['trunk', *args(tmp_path, '--epochs', '4')])  # stops at 2 of 4 epochs
    with pytest.raises(SystemExit, match='other settings'):
        sb.main(['branch', 'views', 'view_weight=1', *args(tmp_path)])  # 3 epochs, not 4


def test_a_trunk_serves_only_branches_of_its_data_set(toy, tmp_path, monkeypatch):
    sb.main(['trunk', *args(tmp_path, '--dataset', 'cifar10-jpeg')])
    assert sb.trunk_meta(tmp_path) == {'dataset': 'cifar10-jpeg', 'holdout': 'per_class'}
    with pytest.raises(SystemExit, match='trained on cifar10-jpeg, not fashion-mnist: pass '
                                         '--dataset cifar10-jpeg'):
        sb.main(['branch', 'views', 'view_weight=1', *args(tmp_path)])
    with pytest.raises(SystemExit, match='trained on cifar10-jpeg, not fashion-mnist'):
        sb.main(['trunk', *args(tmp_path)])
    sb.main(['branch', 'views', 'view_weight=1', *args(tmp_path, '--dataset', 'cifar10-jpeg')])
    row = json.loads((tmp_path / 'branch_views.json').read_text())
    assert row['dataset'] == 'cifar10-jpeg'
    written = {}
    monkeypatch.setattr(sb, 'write_results', lambda stem, payload, md: written.update(md=md))
    sb.main(['report', '--out', str(tmp_path), '--stem', 'c'])
    assert 'CIFAR-10 (the JPEG copy)' in written['md']
    assert 'the last 1,000 training images of each class' in written['md']
    # a CIFAR trunk from before the per-class hold-out (tail rows) serves no branch now
    (tmp_path / 'trunk.json').write_text(json.dumps({'dataset': 'cifar10-jpeg'}))
    with pytest.raises(SystemExit, match='held out the tail rows of cifar10-jpeg, not the '
                                         'per_class rows'):
        sb.main(['branch', 'views', 'view_weight=1', *args(tmp_path, '--dataset', 'cifar10-jpeg')])
    # a trunk written before --dataset existed has no trunk.json: Fashion-MNIST's, tail rows
    (tmp_path / 'trunk.json').unlink()
    assert sb.trunk_meta(tmp_path) == {'dataset': 'fashion-mnist', 'holdout': 'tail'}


def _sorted_labels(classes=10, per=5000):
    import torch
    return torch.arange(classes).repeat_interleave(per)  # CIFAR's JPEG copy: class-sorted


def test_the_per_class_holdout_keeps_every_class_on_class_sorted_labels():
    import torch
    y = _sorted_labels()
    train, val = sb.holdout_rows(y, 40000, 'per_class')
    assert len(train) == 40000 and len(val) == 10000
    assert not set(train.tolist()) & set(val.tolist())
    assert torch.bincount(y[val]).tolist() == [1000] * 10   # each class's last 1,000 rows
    assert torch.bincount(y[train]).tolist() == [4000] * 10
    assert val[:1000].tolist() == list(range(4000, 5000))
    # smoke: a class-mixed handful of each side
    train, val = sb.holdout_rows(y, 40000, 'per_class', smoke=500)
    assert len(train) == 500 and len(val) == 100
    assert len(torch.unique(y[train])) == 10 and len(torch.unique(y[val])) == 10


def test_the_tail_holdout_is_the_rows_after_the_training_rows_and_refuses_a_sorted_set():
    import torch
    y = torch.arange(60000) % 10  # Fashion-MNIST-like: no class order
    train, val = sb.holdout_rows(y, 50000, 'tail')
    assert train.tolist() == list(range(50000)) and val.tolist() == list(range(50000, 60000))
    # session 38's bug: the tail of a class-sorted set holds two classes of ten
    with pytest.raises(SystemExit, match=r'hold no image of classes \[0, 1, 2, 3, 4, 5, 6, 7\]'):
        sb.holdout_rows(_sorted_labels(), 40000, 'tail')
    with pytest.raises(ValueError, match="holdout rule must be 'tail' or 'per_class'"):
        sb.holdout_rows(y, 50000, 'random')


def test_the_validation_split_is_refused_for_unknown_or_short_data(monkeypatch):
    with pytest.raises(SystemExit, match="--dataset 'mnist' has no validation split"):
        sb.validation_data(dataset='mnist')
