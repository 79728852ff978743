"""``teacher_views``: the image teacher reads each step's view too, and the objectives read
its features of that view (issue 15's "views applied to both", P refreshed per view)."""
import pytest
import torch
import torch.nn.functional as F

from genurl_pyg.distill import DistillConfig, GenURLDistiller, image_views
from genurl_pyg.distill.peers import (PKTObjective, RegressionObjective, RKDObjective,
                                      SEEDObjective)
from genurl_pyg.node.config import ConfigError
from genurl_pyg.vision.backbones import SmallCNN

from ..vision.test_trainer import toy_images
from .test_image import CNN, _class_teacher

BLOCK = dict(CNN, pairs='block', loss='kl', latent_radius=10.0)


class Spy(torch.nn.Module):
    """A module that records every batch it reads (the teacher, or the student's first
    layer)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner, self.seen, self.modes = inner, [], []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        self.modes.append(self.training)
        return self.inner(x)


def _teacher(seed=0, width=4):
    torch.manual_seed(seed)
    net = SmallCNN(3, width=width)
    return net.eval()


@pytest.mark.parametrize('objective,extra', [('genurl', BLOCK), ('mse', CNN),
                                             ('seed', dict(CNN, queue_size=32))])
def test_the_teacher_reads_exactly_the_view_the_student_reads(objective, extra):
    x, _ = toy_images(96, 0)
    teacher = Spy(_teacher()).train()  # a module given in training mode
    stats = teacher.inner.features[1].running_mean.clone()
    cfg = DistillConfig.from_dict({**extra, 'objective': objective, 'epochs': 1,
                                   'batch_size': 32, 'teacher_views': True})
    student_in = Spy(SmallCNN(3, width=4))
    student = torch.nn.Sequential(student_in, torch.nn.Linear(student_in.inner.out_channels,
                                                              16))
    d = GenURLDistiller(teacher, x, cfg, student=student, views=image_views(x))
    static_passes = len(teacher.seen)  # the static features, computed once
    d.run_epoch()
    steps = teacher.seen[static_passes:]
    assert len(steps) == 3 == len(student_in.seen)  # one teacher forward per step
    for t_in, s_in in zip(steps, student_in.seen):
        torch.testing.assert_close(t_in, s_in)  # the same view, not the clean images
    clean = image_views(x).normalize(x)
    assert not any(torch.allclose(v, clean[:v.size(0)]) for v in steps)
    # frozen: every pass in eval mode (its BatchNorm statistics untouched), the module's
    # own mode restored after each
    assert not any(teacher.modes) and teacher.training
    torch.testing.assert_close(teacher.inner.features[1].running_mean, stats)


def test_regression_targets_are_the_views_features_standardised_by_the_static_ones():
    g = torch.Generator().manual_seed(0)
    static, view = torch.randn(50, 6, generator=g), torch.randn(50, 6, generator=g) * 3 + 1
    out = torch.randn(50, 6, generator=g)
    cfg = DistillConfig(out_channels=6)
    anchors = torch.arange(0, 50, 2)
    for kind in ('mse', 'cosine'):
        obj = RegressionObjective(static, cfg, kind)
        obj.set_view_teacher(lambda rows: view[rows])
        target = (view[anchors] - static.mean(0)) / (static.std(0) + 1e-8)  # by hand
        pred = out[anchors]
        want = (F.mse_loss(pred, target) if kind == 'mse'
                else (1 - F.cosine_similarity(pred, target, dim=1)).mean())
        torch.testing.assert_close(obj.loss(lambda rows: out[rows], anchors), want)
        obj.set_view_teacher(None)  # static again: the static table's rows
        static_target = (static[anchors] - static.mean(0)) / (static.std(0) + 1e-8)
        want = (F.mse_loss(pred, static_target) if kind == 'mse'
                else (1 - F.cosine_similarity(pred, static_target, dim=1)).mean())
        torch.testing.assert_close(obj.loss(lambda rows: out[rows], anchors), want)


@pytest.mark.parametrize('peer', [PKTObjective, RKDObjective, SEEDObjective])
def test_relation_peers_relate_the_views_features(peer):
    """A peer reading the view's features gives the loss it gives when those features are
    its static table (its own transform, e.g. SEED's normalisation, applied alike)."""
    g = torch.Generator().manual_seed(1)
    static, view = torch.randn(40, 8, generator=g), torch.randn(40, 8, generator=g)
    out = torch.randn(40, 8, generator=g)
    cfg = DistillConfig(out_channels=8, queue_size=16)
    anchors = torch.arange(10, 30)
    live = peer(static, cfg)
    live.set_view_teacher(lambda rows: view[rows])
    reference = peer(view, cfg)
    if peer is SEEDObjective:  # the same head and an empty queue in both
        reference.head.load_state_dict(live.head.state_dict())
    torch.testing.assert_close(live.loss(lambda r: out[r], anchors),
                               reference.loss(lambda r: out[r], anchors))


def test_genurls_block_is_rebuilt_from_the_views_features_by_brute_force_knn():
    x, y = toy_images(128, 0)
    d = GenURLDistiller(_class_teacher(y), x, DistillConfig.from_dict(
        {**BLOCK, 'epochs': 1, 'k': 20}), views=image_views(x))
    obj = d.objective
    anchors = torch.randperm(128, generator=torch.Generator().manual_seed(0))[:40]
    static = obj.sim  # the static block: its mean neighbours per row sets k_B
    from genurl_pyg.nn.sampling import dense_block
    block = dense_block(static, anchors)
    block.fill_diagonal_(0)
    k_b = min(39, max(1, round(float((block > 0).sum()) / 40)))
    t = torch.randn(40, 5, generator=torch.Generator().manual_seed(2))
    p = obj.view_block(t, dense_block(static, anchors))
    assert p.shape == (40, 40) and (p.diagonal() == 0).all() and (p >= 0).all()
    dist = torch.cdist(t, t)
    dist.fill_diagonal_(float('inf'))
    knn = dist.topk(k_b, largest=False).indices  # brute force
    want = torch.zeros(40, 40, dtype=torch.bool)
    want[torch.arange(40)[:, None], knn] = True
    have = p > 0
    assert (have | ~want).all()  # every row's k_B nearest in the view are neighbours in P
    assert (~have | want | want.T).all()  # and nothing beyond kNN and its transpose
    # the nearer of two neighbours weighs at least as much (a decreasing kernel)
    i = 0
    js = knn[i]
    w = p[i, js]
    order = dist[i, js].argsort()
    assert (w[order][:-1] >= w[order][1:] - 1e-6).all() or k_b == 1


def test_neighbour_batches_give_the_refreshed_block_more_neighbours():
    """k_B follows the static block: with batch_neighbours a batch holds each seed's
    P-neighbours, so the refreshed block keeps more neighbours per row than on uniform
    batches."""
    x, _ = toy_images(256, 0)
    ks = {}
    for m in (0, 3):
        d = GenURLDistiller(_teacher(), x, DistillConfig.from_dict(
            {**BLOCK, 'epochs': 1, 'k': 10, 'batch_neighbours': m, 'teacher_views': True}),
            views=image_views(x))
        seen = []
        inner = d.objective.view_block

        def spy(t, static_block, inner=inner, seen=seen):
            p = inner(t, static_block)
            seen.append(float((p > 0).sum()) / p.size(0))
            return p
        d.objective.view_block = spy
        d.run_epoch()
        ks[m] = sum(seen) / len(seen)
    assert ks[3] > ks[0] + 1, ks


def test_a_student_that_sees_the_teachers_views_matches_the_teacher_on_new_views():
    """The teacher is a fixed function of its input view; the cosine student trained with
    teacher_views follows the teacher's features of fresh random views more closely than
    the one trained on the unaugmented images' features."""
    x, _ = toy_images(128, 0)
    teacher = _teacher(3)
    views = image_views(x, {'crop_scale': (0.3, 1.0)})
    fresh = views(x, torch.Generator().manual_seed(99))
    with torch.no_grad():
        t_fresh = teacher(fresh)
    errors = {}
    for tv in (False, True):
        d = GenURLDistiller(teacher, x, DistillConfig.from_dict(
            {**CNN, 'objective': 'cosine', 'epochs': 25, 'out_channels': 32,
             'teacher_views': tv}), views=views)
        d.fit()
        with torch.no_grad():
            d.student.eval()
            pred = d.objective.head(d.student(fresh))
        target = d.objective.standardise(t_fresh)
        errors[tv] = float((1 - F.cosine_similarity(pred, target, dim=1)).mean())
    # measured (teacher seeds 3-5, two image draws): 0.20-0.25 against 0.36-0.59
    assert errors[True] < errors[False] - 0.05, errors


def test_resume_with_teacher_views_gives_the_uninterrupted_result(tmp_path):
    x, _ = toy_images(96, 0)
    cfg = DistillConfig.from_dict({**BLOCK, 'epochs': 2, 'teacher_views': True})
    whole = GenURLDistiller(_teacher(), x, cfg, views=image_views(x))
    whole.fit()
    ckpt = tmp_path / 'ckpt.pt'
    first = GenURLDistiller(_teacher(), x, cfg, views=image_views(x))
    first.run_epoch()
    first.state.epoch = 1
    first.save_checkpoint(ckpt)
    second = GenURLDistiller(_teacher(), x, cfg, views=image_views(x))
    second.load_checkpoint(ckpt)
    second.fit()
    torch.testing.assert_close(second.embed(), whole.embed())
    static = GenURLDistiller(_teacher(), x, DistillConfig.from_dict({**BLOCK, 'epochs': 2}),
                             views=image_views(x))
    with pytest.raises(ValueError, match='teacher_views'):  # another config: refused
        static.load_checkpoint(ckpt)


def test_teacher_views_is_left_out_of_the_saved_config_at_its_default():
    """Checkpoints and run folders written before the key existed still resume."""
    assert 'teacher_views' not in DistillConfig().to_dict()
    on = DistillConfig.from_dict({'teacher_views': True})
    assert on.to_dict()['teacher_views'] is True
    assert DistillConfig.from_dict(on.to_dict()) == on


def test_bad_teacher_views_settings_are_named():
    x, y = toy_images(64, 0)
    with pytest.raises(ConfigError, match="'teacher_views' must be true or false"):
        DistillConfig.from_dict({'teacher_views': 'yes'})
    with pytest.raises(ConfigError, match="objective 'glnn'"):
        DistillConfig.from_dict({'teacher_views': True, 'objective': 'glnn'})
    with pytest.raises(ConfigError, match="'input_weight'"):
        DistillConfig.from_dict({'teacher_views': True, 'input_weight': 0.5})
    with pytest.raises(ValueError, match='must be a module'):  # features cannot see a view
        GenURLDistiller(_class_teacher(y), x, DistillConfig.from_dict(
            {**BLOCK, 'teacher_views': True}), views=image_views(x))
    with pytest.raises(ValueError, match="pairs 'sampled'"):
        GenURLDistiller(_teacher(), x, DistillConfig.from_dict(
            {**CNN, 'teacher_views': True}), views=image_views(x))
    with pytest.raises(ValueError, match='node features'):
        GenURLDistiller(torch.nn.Linear(5, 3), torch.randn(30, 5), DistillConfig.from_dict(
            {'teacher_views': True, 'batch_size': 8}))
