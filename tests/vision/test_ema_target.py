"""``target: ema``: a predictor on the online branch, Q toward an EMA teacher's projections."""
import copy

import pytest
import torch

import genurl_pyg.vision.trainer as trainer_module
from genurl_pyg.vision.backbones import SmallCNN
from genurl_pyg.vision.config import SSLConfig
from genurl_pyg.vision.trainer import VisualTrainer

from .test_trainer import FAST, toy_data

EMA = dict(FAST, target='ema', predictor_hidden=16, monitor_every=0)


def trainer(**overrides):
    torch.manual_seed(0)
    return VisualTrainer(toy_data(), SSLConfig(**dict(EMA, **overrides)),
                         backbone=SmallCNN(3, width=4))


def test_one_step_reads_the_predictor_against_the_ema_targets():
    t = trainer(epochs=1, ema=0.9)
    assert 'predictor' in t.model and t.target_projector is not None
    # the predictor's parameters come last, after the backbone's and the projector's
    names = [n for n, _ in t.model.named_parameters()]
    assert names[-1].startswith('predictor.') and not names[0].startswith('predictor.')
    seen, real = [], t.loss_fn.forward

    def spy(z, p, *args, **kwargs):
        seen.append((z, kwargs['targets']))
        return real(z, p, *args, **kwargs)

    t.loss_fn.forward = spy
    online_before = copy.deepcopy(t.model['projector'])
    target_before = copy.deepcopy(t.target_projector)
    imgs = t.train_x[:32]
    t._step(imgs, use_knn=False)
    z, targets = seen[0]
    assert z.shape == targets.shape == (64, 32)
    assert z.requires_grad and not targets.requires_grad
    assert not torch.allclose(z, targets)  # the predictor's output, not the projection
    # the target projector moved by 1 - ema toward the online projector after its step
    for tb, ob, ta, oa in zip(target_before.parameters(), online_before.parameters(),
                              t.target_projector.parameters(), t.model['projector'].parameters()):
        assert torch.allclose(ta, 0.9 * tb + 0.1 * oa.detach(), atol=1e-6)
        assert torch.equal(tb, ob)  # both started as copies


def test_the_ema_target_learns_and_resumes(tmp_path):
    torch.manual_seed(0)
    t = VisualTrainer(toy_data(), SSLConfig(**EMA), backbone=SmallCNN(3, width=8))
    before = t.knn_monitor()
    t.fit()
    # measured: kNN 0.555 -> 0.586 (the symmetric form on the same toy: 0.633), the loss
    # 0.105 in the first epoch, 0.100 in the last
    assert t.knn_monitor() > before + 0.02
    assert t.state.losses[-1] < 0.98 * t.state.losses[0]
    # resume from an interrupted run gives the uninterrupted run's parameters
    ckpt = tmp_path / 'ema.pt'
    a = trainer(epochs=3)
    a.fit(ckpt, stop_after=2)
    b = trainer(epochs=3)
    b.fit(ckpt)
    whole = trainer(epochs=3)
    whole.fit()
    for x, y in zip(b.model.parameters(), whole.model.parameters()):
        assert torch.allclose(x, y, atol=1e-6)
    for x, y in zip(b.target_projector.parameters(), whole.target_projector.parameters()):
        assert torch.allclose(x, y, atol=1e-6)


def test_start_target_continues_a_run_written_without_it(tmp_path):
    online = trainer(epochs=3, target='online')
    ckpt = tmp_path / 'trunk.pt'
    online.fit(ckpt, stop_after=1)
    blob = torch.load(ckpt, weights_only=False)
    branch = trainer(epochs=3)
    branch.start_target(blob)
    assert branch.state.epoch == 1
    assert branch.scheduler.last_epoch == online.scheduler.last_epoch
    for x, y in zip(branch.model['backbone'].parameters(), online.model['backbone'].parameters()):
        assert torch.equal(x, y)
    for x, y in zip(branch.teacher.parameters(), online.model['backbone'].parameters()):
        assert torch.equal(x, y)  # the teacher starts as the online backbone
    for x, y in zip(branch.target_projector.parameters(), online.model['projector'].parameters()):
        assert torch.equal(x, y)
    # the optimiser's moments of the trunk's parameters are kept, the predictor's start empty
    first = next(branch.model['backbone'].parameters())
    kept = next(online.model['backbone'].parameters())
    assert torch.equal(branch.optimizer.state[first]['exp_avg'],
                       online.optimizer.state[kept]['exp_avg'])
    assert all(p not in branch.optimizer.state for p in branch.model['predictor'].parameters())
    branch.fit()
    assert branch.state.epoch == 3 and len(branch.state.losses) == 3
    with pytest.raises(ValueError, match="needs a trainer with ssl config 'target: ema'"):
        trainer(epochs=3, target='online').start_target(blob)
    two_groups = dict(blob, optimizer=dict(blob['optimizer'], param_groups=[
        *blob['optimizer']['param_groups'], blob['optimizer']['param_groups'][0]]))
    with pytest.raises(ValueError, match='one optimiser parameter group, the checkpoint has 2'):
        trainer(epochs=3).start_target(two_groups)
    ckpt2 = tmp_path / 'branch.pt'
    branch.save_checkpoint(ckpt2)
    with pytest.raises(ValueError, match='already has a predictor'):
        trainer(epochs=3).start_target(torch.load(ckpt2, weights_only=False))


def test_bad_target_settings_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="'target' must be one of"):
        SSLConfig(target='byol').validate()
    with pytest.raises(ValueError, match="'target: ema' keeps GKL's pairwise repulsion"):
        SSLConfig(target='ema', repulsion='decorrelation', latent_radius=3.0).validate()
    with pytest.raises(ValueError, match="the peer 'byol' has its own heads"):
        SSLConfig(target='ema', objective='byol').validate()
    with pytest.raises(ValueError, match="'predictor_hidden'"):
        SSLConfig(target='ema', predictor_hidden=0).validate()
    monkeypatch.setattr(trainer_module, 'ALL_PAIRS_MAX', 32)  # 64 rows: the sampled form
    with pytest.raises(ValueError, match="'target: ema' needs the all-pairs loss: 2 \\* "
                                         "batch_size = 64 rows is above 32"):
        trainer(epochs=1)  # refused when built, before any step
