"""``view_pair_weight``: two views of each row in GenURL's block of P (the views' predefined
graph beside the teacher's static neighbourhoods; method section 2, item 7)."""
import pytest
import torch

from genurl_pyg.distill import DistillConfig, GenURLDistiller, image_views
from genurl_pyg.distill.objective import GenURLObjective
from genurl_pyg.node.config import ConfigError

from ..vision.test_trainer import toy_images
from .test_image import CNN, _class_teacher

BLOCK = dict(CNN, pairs='block', loss='kl', latent_radius=10.0)


def _by_hand(p, w):
    """The [2B, 2B] block entry by entry: view a of row i against view b of row j."""
    b = p.size(0)
    out = torch.zeros(2 * b, 2 * b)
    for a in range(2):
        for i in range(b):
            for c in range(2):
                for j in range(b):
                    if i == j:  # the same row: its two views are paired, itself is not
                        out[a * b + i, c * b + j] = w if a != c else 0.0
                    else:
                        out[a * b + i, c * b + j] = (1 - w) * p[i, j]
    return out


@pytest.mark.parametrize('w', [0.2, 0.5, 0.9])
def test_the_block_over_two_views_matches_a_hand_built_one(w):
    g = torch.Generator().manual_seed(0)
    teacher = torch.randn(30, 6, generator=g)
    cfg = DistillConfig(pairs='block', loss='kl', k=5, view_pair_weight=w).resolved(False)
    obj = GenURLObjective(teacher, cfg)
    p = torch.rand(7, 7, generator=g)  # a diagonal too: it must not leak into the block
    torch.testing.assert_close(obj.view_pair_block(p), _by_hand(p, w))


def test_each_step_encodes_two_different_views_of_every_anchor():
    x, _ = toy_images(64, 0)
    seen = []

    class Spy(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, v):
            seen.append(v.detach().clone())
            return self.inner(v)

    cfg = DistillConfig.from_dict({**BLOCK, 'epochs': 1, 'batch_size': 32,
                                   'view_pair_weight': 0.5})
    d = GenURLDistiller(_class_teacher(toy_images(64, 0)[1]), x, cfg, views=image_views(x))
    d.student = Spy(d.student)
    d.optimizer = torch.optim.Adam(d.student.parameters())
    calls = []
    original = d.objective.loss
    d.objective.loss = lambda encode, anchors, gen: (calls.append(anchors.clone()),
                                                     original(encode, anchors, gen))[1]
    d.run_epoch()
    assert len(calls) == 2 and len(seen) == 4  # two steps, two encodes each
    for step in range(2):
        first, second = seen[2 * step], seen[2 * step + 1]
        assert first.shape == second.shape == (32,) + tuple(x.shape[1:])
        assert not torch.allclose(first, second)  # independent views of the same images


def test_paired_views_move_the_two_views_of_an_image_together():
    """The teacher's P joins the images of a class; the pairs add each image's own views.
    With most of P on the pair (w 0.9) the student maps two fresh views of one image closer,
    relative to the other images of its class, than the same student without the pairs
    (measured, two image draws: 0.69-0.70 against 0.90-0.91)."""
    x, y = toy_images(128, 0)
    views = image_views(x, {'crop_scale': (0.3, 1.0)})
    a = views(x, torch.Generator().manual_seed(7))
    b = views(x, torch.Generator().manual_seed(8))
    same_class = (y[:, None] == y[None, :]) & ~torch.eye(y.numel(), dtype=torch.bool)
    ratios = {}
    for w in (0.0, 0.9):
        cfg = DistillConfig.from_dict({**BLOCK, 'epochs': 40, 'view_pair_weight': w})
        d = GenURLDistiller(_class_teacher(y), x, cfg, views=views)
        d.fit()
        d.student.eval()
        with torch.no_grad():
            za, zb = (torch.nn.functional.normalize(d.student(v), dim=1) for v in (a, b))
        own = (za - zb).norm(dim=1).mean()  # an image's two views
        ratios[w] = float(own / torch.cdist(za, zb)[same_class].mean())
    assert ratios[0.9] < 0.85 * ratios[0.0], ratios


def test_resume_with_paired_views_gives_the_uninterrupted_result(tmp_path):
    x, y = toy_images(96, 0)
    cfg = DistillConfig.from_dict({**BLOCK, 'epochs': 2, 'view_pair_weight': 0.5})
    whole = GenURLDistiller(_class_teacher(y), x, cfg, views=image_views(x))
    whole.fit()
    ckpt = tmp_path / 'ckpt.pt'
    first = GenURLDistiller(_class_teacher(y), x, cfg, views=image_views(x))
    first.run_epoch()
    first.state.epoch = 1
    first.save_checkpoint(ckpt)
    second = GenURLDistiller(_class_teacher(y), x, cfg, views=image_views(x))
    second.load_checkpoint(ckpt)
    second.fit()
    torch.testing.assert_close(second.embed(), whole.embed())


def test_node_rows_pair_two_feature_masks():
    g = torch.Generator().manual_seed(0)
    x, teacher = torch.randn(40, 12, generator=g), torch.randn(40, 4, generator=g)
    cfg = DistillConfig.from_dict({'pairs': 'block', 'loss': 'kl', 'k': 5, 'epochs': 2,
                                   'batch_size': 16, 'feature_mask': 0.3,
                                   'hidden_channels': 16, 'out_channels': 8,
                                   'view_pair_weight': 0.5})
    d = GenURLDistiller(teacher, x, cfg)
    d.fit()
    assert d.embed().shape == (40, 8) and torch.isfinite(d.embed()).all()


def test_view_pair_weight_is_left_out_of_the_saved_config_at_its_default():
    assert 'view_pair_weight' not in DistillConfig().to_dict()
    on = DistillConfig.from_dict({'pairs': 'block', 'view_pair_weight': 0.5})
    assert on.to_dict()['view_pair_weight'] == 0.5
    assert DistillConfig.from_dict(on.to_dict()) == on


def test_bad_view_pair_settings_are_named():
    x, y = toy_images(64, 0)
    for bad in (-0.1, 1.0, 'half'):
        with pytest.raises(ConfigError, match='view_pair_weight'):
            DistillConfig.from_dict({'pairs': 'block', 'view_pair_weight': bad})
    with pytest.raises(ConfigError, match="objective 'mse'"):
        DistillConfig.from_dict({'objective': 'mse', 'view_pair_weight': 0.5})
    with pytest.raises(ConfigError, match="pairs 'sampled'"):
        DistillConfig.from_dict({'pairs': 'sampled', 'view_pair_weight': 0.5})
    with pytest.raises(ConfigError, match="'teacher_views'"):
        DistillConfig.from_dict({'pairs': 'block', 'teacher_views': True,
                                 'view_pair_weight': 0.5})
    with pytest.raises(ValueError, match="pairs 'sampled'"):  # images resolve 'auto' so
        GenURLDistiller(_class_teacher(y), x, DistillConfig.from_dict(
            {**CNN, 'view_pair_weight': 0.5}), views=image_views(x))
    with pytest.raises(ValueError, match='feature_mask'):  # node rows: one view each
        GenURLDistiller(torch.randn(30, 3), torch.randn(30, 5), DistillConfig.from_dict(
            {'pairs': 'block', 'batch_size': 8, 'view_pair_weight': 0.5}))
