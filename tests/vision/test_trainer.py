import math
"""A tiny end-to-end run of the image task, resume, and its errors."""
import pytest
import torch
from torch import nn

from genurl_pyg.vision.backbones import SmallCNN, build_backbone, feature_dim
from genurl_pyg.vision.config import SSLConfig
from genurl_pyg.vision.data import ImageData
from genurl_pyg.vision.objective import BatchSimilarity, view_edges
from genurl_pyg.vision.trainer import VisualTrainer


def toy_images(n=256, seed=0):
    """Four classes of 16x16 RGB images: one or two bright bars, horizontal or vertical, at
    random places, on a background of a random colour. The colour varies far more than the
    class, so a random backbone's pooled features sort by colour; views with colour jitter
    and grayscale teach a backbone to look at the bars."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    x = torch.rand(n, 3, 1, 1, generator=g) * 0.7 + torch.rand(n, 3, 16, 16, generator=g) * 0.1
    x = x.expand(n, 3, 16, 16).clone()
    for i in range(n):
        bars = 1 if y[i] % 2 == 0 else 2
        for pos in torch.randperm(12, generator=g)[:bars] * 1 + 2:
            if y[i] < 2:
                x[i, :, pos:pos + 2, :] = 1.0
            else:
                x[i, :, :, pos:pos + 2] = 1.0
    return (x.clamp(0, 1) * 255).to(torch.uint8), y


def toy_data():
    x, y = toy_images(256, 0)
    xt, yt = toy_images(128, 1)
    return ImageData('toy', x, y, xt, yt, ['a', 'b', 'c', 'd'])


FAST = dict(epochs=8, batch_size=32, knn_start=6, monitor_every=4, knn_k=20,
            projector_hidden=64, projector_out=32, device='cpu', warmup_epochs=1,
            views={'crop_scale': (0.5, 1.0)})


def test_a_tiny_run_learns_something_measurable():
    torch.manual_seed(0)
    data = toy_data()
    trainer = VisualTrainer(data, SSLConfig(**FAST), backbone=SmallCNN(3, width=8))
    before = trainer.knn_monitor()
    trainer.fit()
    after = trainer.knn_monitor()
    # measured gains over seeds 0, 1, 2: radius 2 (the default) +0.039, +0.086, +0.172;
    # the unbounded Q +0.078, +0.039, +0.164 (session 40): above 0.03 on every one
    assert after > before + 0.03, (before, after)  # seed 0: 0.555 -> 0.594
    assert len(trainer.state.losses) == 8 and trainer.state.knn[0]['epoch'] == 4


def test_resume_gives_the_uninterrupted_result(tmp_path):
    data = toy_data()
    # view_weight 0.5: the teacher's kNN joins P after epoch 1, so its state is resumed too
    cfg = SSLConfig(**dict(FAST, epochs=3, knn_start=1, view_weight=0.5, monitor_every=0))

    def net():  # the same initial backbone for every trainer
        torch.manual_seed(0)
        return SmallCNN(3, width=4)
    whole = VisualTrainer(data, cfg, backbone=net())
    whole.fit()
    ckpt = tmp_path / 'ckpt.pt'
    first = VisualTrainer(data, cfg, backbone=net())
    first.fit(ckpt, stop_after=1)  # as a run killed after its first epoch
    assert first.state.epoch == 1
    second = VisualTrainer(data, cfg, backbone=net())
    second.fit(ckpt)
    assert second.state.losses == whole.state.losses
    for a, b in zip(second.model.state_dict().values(), whole.model.state_dict().values()):
        assert torch.equal(a, b)
    other = VisualTrainer(data, SSLConfig(**dict(cfg.to_dict(), lr=0.2)), backbone=net())
    with pytest.raises(ValueError, match='another config.*lr'):
        other.fit(ckpt)


def test_a_teacher_not_yet_read_leaves_training_unchanged():
    """Before ``knn_start`` the EMA teacher is updated but never read: the backbone's
    trajectory is the views-only run's, bit for bit (experiments/ssl_branches.py trains
    one trunk for both on this premise)."""
    data = toy_data()

    def run(**kw):
        torch.manual_seed(0)
        t = VisualTrainer(data, SSLConfig(**dict(FAST, epochs=4, monitor_every=0, **kw)),
                          backbone=SmallCNN(3, width=4))
        t.fit(stop_after=2)
        return t
    views, late = run(view_weight=1.0), run(view_weight=0.5, knn_start=2)
    assert views.teacher is None and late.teacher is not None
    assert views.state.losses == late.state.losses
    for a, b in zip(views.model.state_dict().values(), late.model.state_dict().values()):
        assert torch.equal(a, b)
    late.fit()  # from epoch 2 the teacher's kNN is part of P: the runs part
    views.fit()
    assert late.state.losses[2:] != views.state.losses[2:]


def test_bad_inputs_get_clear_errors():
    data = toy_data()
    with pytest.raises(ValueError, match="'batch_size' \\(512\\) is larger than the 256"):
        VisualTrainer(data, SSLConfig(batch_size=512, device='cpu'))
    with pytest.raises(ValueError, match=r'\[B, D\] features.*returned \(2, 8, 16, 16\)'):
        VisualTrainer(data, SSLConfig(device='cpu'),
                      backbone=nn.Conv2d(3, 8, 3, padding=1))
    with pytest.raises(ValueError, match='failed on images of shape'):
        VisualTrainer(data, SSLConfig(device='cpu'), backbone=nn.Linear(5, 5))
    with pytest.raises(ValueError, match="ssl config 'lr' must be a finite number"):
        SSLConfig(lr=float('nan')).validate()
    with pytest.raises(ValueError, match=r"ssl config 'ema' must be in \[0.0, 1.0\]"):
        SSLConfig(ema=1.5).validate()
    with pytest.raises(ValueError, match="'optimizer'"):
        SSLConfig(optimizer='lamb').validate()
    with pytest.raises(ValueError, match=r"unknown ssl config key.*'epoch' \(did you mean 'epochs'\?\)"):
        SSLConfig.from_dict({'epoch': 3})
    with pytest.raises(ValueError, match="unknown view option"):
        SSLConfig(views={'blur': 1}).validate()
    trainer = VisualTrainer(data, SSLConfig(**FAST), backbone=SmallCNN(3, width=4))
    with pytest.raises(ValueError, match=r'images must be \[N, 3, 16, 16\]'):
        trainer.embed(torch.zeros(2, 1, 16, 16, dtype=torch.uint8))
    with pytest.raises(ValueError, match='unknown backbone'):
        build_backbone('vgg')


def test_batch_similarity_joins_the_two_views():
    p = BatchSimilarity(k=2, view_weight=1.0)(3)
    assert sorted(map(tuple, p.index.t().tolist())) == sorted(
        map(tuple, view_edges(3).t().tolist()))
    mixed = BatchSimilarity(k=2, view_weight=0.5)(3, torch.randn(6, 4))
    assert mixed.num_nodes == 6 and mixed.index.size(1) > 6
    with pytest.raises(ValueError, match='2B = 6 rows'):
        BatchSimilarity(k=2)(3, torch.randn(5, 4))


def test_small_cnn_shape():
    net = SmallCNN(1, width=4)
    assert feature_dim(net, (1, 28, 28)) == 32 and net.training


def test_teacher_false_negatives_match_brute_force():
    from genurl_pyg.vision.objective import teacher_false_negatives
    g = torch.Generator().manual_seed(0)
    b, m = 5, 2
    t = torch.randn(2 * b, 6, generator=g)
    mask = teacher_false_negatives(t, b, m)
    cos = torch.nn.functional.cosine_similarity(t.unsqueeze(1), t.unsqueeze(0), dim=2)
    expected = torch.zeros(2 * b, 2 * b, dtype=torch.bool)
    for i in range(2 * b):
        others = [j for j in range(2 * b) if j != i and j != (i + b) % (2 * b)]
        for j in sorted(others, key=lambda j: -float(cos[i, j]))[:m]:
            expected[i, j] = expected[j, i] = True
    assert torch.equal(mask, expected)
    assert not mask.diagonal().any() and not mask[torch.arange(b), torch.arange(b) + b].any()
    with pytest.raises(ValueError, match=r'\[2B = 10, D\]'):
        teacher_false_negatives(t[:9], b, m)
    with pytest.raises(ValueError, match="'m' must be an integer in \\[1, 2B - 2 = 8\\]"):
        teacher_false_negatives(t, b, 9)


def test_no_repulsion_leaves_only_zero_p_pairs_out_of_the_loss():
    from genurl_pyg.nn.functional import all_pairs_loss, gkl_elementwise, pairwise_sqdist, \
        student_t
    g = torch.Generator().manual_seed(1)
    z = torch.randn(6, 3, generator=g)
    p = torch.zeros(6, 6)
    p[0, 3] = p[3, 0] = 0.8
    drop = torch.zeros(6, 6, dtype=torch.bool)
    drop[0, 1] = drop[1, 0] = True
    drop[0, 3] = True  # p > 0: attraction is never removed
    q = student_t(pairwise_sqdist(z), 1.0)
    keep = ~torch.eye(6, dtype=torch.bool)
    keep[0, 1] = keep[1, 0] = False
    by_hand = gkl_elementwise(p[keep], q[keep], 0.5).mean()
    assert all_pairs_loss(z, p, alpha=0.5, no_repulsion=drop) == pytest.approx(float(by_hand))
    none = torch.zeros(6, 6, dtype=torch.bool)
    assert all_pairs_loss(z, p, alpha=0.5, no_repulsion=none) == pytest.approx(
        float(all_pairs_loss(z, p, alpha=0.5)))
    with pytest.raises(ValueError, match="'no_repulsion' must be a boolean"):
        all_pairs_loss(z, p, no_repulsion=drop.float())
    with pytest.raises(ValueError, match="elementwise variants, not 'kl'"):
        all_pairs_loss(z, p, variant='kl', no_repulsion=drop)


def test_false_negatives_act_once_the_teacher_is_read():
    data = toy_data()

    def run(**kw):
        torch.manual_seed(0)
        t = VisualTrainer(data, SSLConfig(**dict(FAST, epochs=3, monitor_every=0, **kw)),
                          backbone=SmallCNN(3, width=4))
        t.fit()
        return t
    views, fn = run(view_weight=1.0), run(view_weight=1.0, false_negatives=4, knn_start=2)
    assert views.teacher is None and fn.teacher is not None  # a teacher just for the mask
    assert fn.state.losses[:2] == views.state.losses[:2]  # not read before knn_start
    assert fn.state.losses[2] != views.state.losses[2]
    with pytest.raises(ValueError, match="'false_negatives' must be at most 2 \\* batch_size"):
        SSLConfig(batch_size=4, false_negatives=7).validate()
    with pytest.raises(ValueError, match="'false_negatives' needs an elementwise 'loss'"):
        SSLConfig(false_negatives=3, loss='infonce').validate()
    with pytest.raises(ValueError, match="ssl config 'false_negatives' must be"):
        SSLConfig(false_negatives=-1).validate()


def test_a_checkpoint_from_before_a_new_config_key_still_resumes(tmp_path):
    data = toy_data()
    cfg = SSLConfig(**dict(FAST, epochs=2, monitor_every=0))
    first = VisualTrainer(data, cfg, backbone=SmallCNN(3, width=4))
    ckpt = tmp_path / 'old.pt'
    first.fit(ckpt, stop_after=1)
    blob = torch.load(ckpt, weights_only=False)
    del blob['config']['false_negatives']  # as written before the key existed
    torch.save(blob, ckpt)
    again = VisualTrainer(data, cfg, backbone=SmallCNN(3, width=4))
    again.fit(ckpt)
    assert again.state.epoch == 2
    other = VisualTrainer(data, SSLConfig(**dict(cfg.to_dict(), false_negatives=2)),
                          backbone=SmallCNN(3, width=4))
    with pytest.raises(ValueError, match='another config.*false_negatives'):
        other.fit(ckpt)


def test_decorrelation_replaces_the_repulsion_on_the_sphere(monkeypatch):
    """repulsion 'decorrelation': GKL with alpha 0 (attraction only) plus the weighted
    covariance term of the two views' projections on the radius-r sphere; the config
    refuses it without a sphere, with another loss or with false negatives."""
    import genurl_pyg.vision.trainer as trainer_module
    data = toy_data()
    seen = []
    real = trainer_module.decorrelation_loss

    def spy(z, radius, num_views):
        value = real(z, radius, num_views)
        seen.append((tuple(z.shape), float(z.norm(dim=1).mean()), radius, num_views,
                     value.item()))
        return value

    monkeypatch.setattr(trainer_module, 'decorrelation_loss', spy)
    cfg = SSLConfig(**dict(FAST, epochs=1, monitor_every=0, latent_radius=2.0,
                           repulsion='decorrelation', decorrelation_weight=5.0))
    torch.manual_seed(0)
    t = VisualTrainer(data, cfg, backbone=SmallCNN(3, width=4))
    assert t.loss_fn.alpha == 0.0
    t.fit()
    assert len(seen) == t.steps_per_epoch
    shape, norm, radius, views, value = seen[-1]
    assert shape == (64, 32) and radius == 2.0 and views == 2  # 2 x batch 32, projector 32
    assert norm == pytest.approx(2.0, rel=1e-4)  # Q's points on the sphere
    assert t.state.losses[-1] > 0
    with pytest.raises(ValueError, match="'latent_radius' > 0"):
        SSLConfig(repulsion='decorrelation', latent_radius=0.0).validate()
    with pytest.raises(ValueError, match="needs 'loss: gkl'"):
        SSLConfig(repulsion='decorrelation', latent_radius=3.0, loss='mse').validate()
    with pytest.raises(ValueError, match="'false_negatives'"):
        SSLConfig(repulsion='decorrelation', latent_radius=3.0, false_negatives=2).validate()
    with pytest.raises(ValueError, match="'repulsion' must be one of"):
        SSLConfig(repulsion='barlow').validate()


def test_the_decorrelation_term_spreads_the_projections():
    """Attraction alone (weight 0) lets the two views' projections gather; the term keeps
    them spread (measured on the training views after a short run)."""
    from genurl_pyg.nn import decorrelation_loss
    data = toy_data()

    def spread(weight):
        torch.manual_seed(0)
        t = VisualTrainer(data, SSLConfig(**dict(
            FAST, epochs=4, monitor_every=0, latent_radius=2.0, repulsion='decorrelation',
            decorrelation_weight=weight)), backbone=SmallCNN(3, width=4))
        t.fit()
        t.model.train()  # batch statistics, as the loss saw them
        with torch.no_grad():
            imgs = data.train_x[:128]
            x = torch.cat([t.views(imgs, torch.Generator().manual_seed(1)),
                           t.views(imgs, torch.Generator().manual_seed(2))])
            z = torch.nn.functional.normalize(t.model['projector'](t.model['backbone'](x)),
                                              dim=1) * 2.0
        return decorrelation_loss(z, 2.0, 2).item()

    assert spread(1.0) < 0.7 * spread(0.0)  # measured: 0.53 vs 0.94


@pytest.mark.parametrize('radius', [1.5, None, 0.0])
def test_latent_radius_puts_q_on_the_sphere_with_the_repulsion_kept(radius):
    """r > 0: every point Q sees has length r; None: the image default, radius 2 (chosen on
    CIFAR-10's validation images); 0: the paper's unbounded Q, lengths left free."""
    data = toy_data()
    torch.manual_seed(0)
    keys = dict(FAST, epochs=1, monitor_every=0)
    if radius is not None:
        keys['latent_radius'] = radius
    t = VisualTrainer(data, SSLConfig(**keys), backbone=SmallCNN(3, width=4))
    assert t.loss_fn.alpha == SSLConfig().alpha  # the Student-t repulsion stays
    norms, real = [], t.loss_fn.forward

    def spy(z, p, *args, **kwargs):
        norms.append(z.norm(dim=1))
        return real(z, p, *args, **kwargs)

    t.loss_fn.forward = spy
    t.fit()
    assert len(norms) == t.steps_per_epoch
    lengths = torch.cat(norms)
    if radius == 0.0:
        assert lengths.std() > 1e-3  # not rescaled: the projector's own lengths
    else:
        expected = 2.0 if radius is None else radius
        assert torch.allclose(lengths, torch.full_like(lengths, expected), atol=1e-4)
    with pytest.raises(ValueError, match="'latent_radius'"):
        SSLConfig(latent_radius=-1.0).validate()


def test_correlation_term_beside_the_repulsion(monkeypatch):
    """repulsion 'student_t+decorrelation': GKL with its alpha (the repulsion kept, no sphere
    needed) plus the correlation term of the two stacked views' projections every step."""
    import genurl_pyg.vision.trainer as trainer_module
    seen = []
    real = trainer_module.correlation_loss

    def spy(z, num_views):
        value = real(z, num_views)
        seen.append((tuple(z.shape), num_views))
        return value

    monkeypatch.setattr(trainer_module, 'correlation_loss', spy)
    cfg = SSLConfig(**dict(FAST, epochs=1, monitor_every=0, alpha=0.7,
                           repulsion='student_t+decorrelation', decorrelation_weight=2.0))
    torch.manual_seed(0)
    t = VisualTrainer(toy_data(), cfg, backbone=SmallCNN(3, width=4))
    assert t.loss_fn.alpha == 0.7
    t.fit()
    assert seen == [((64, 32), 2)] * t.steps_per_epoch
    assert all(math.isfinite(x) for x in t.state.losses)
