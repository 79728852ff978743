"""BatchViews against torchvision.transforms.v2.functional, image by image."""
import pytest
import torch

from genurl_pyg.vision.views import BatchViews, ViewConfig, adjust_hue, color_jitter

F = pytest.importorskip('torchvision.transforms.v2.functional')


def images(b=6, c=3, h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    # smooth images (not white noise) so that crops and resizes are meaningful
    base = torch.rand(b, c, h // 4, w // 4, generator=g)
    return torch.nn.functional.interpolate(base, size=(h, w), mode='bilinear',
                                           align_corners=False)


def test_crop_resize_flip_match_torchvision():
    x = images(h=32, w=40)
    views = BatchViews(ViewConfig(size=24, jitter_p=0.0, grayscale_p=0.0))
    p = views.sample(x.size(0), 32, 40, torch.Generator().manual_seed(3))
    assert bool(p.flip.any()) and not bool(p.flip.all())
    out = views.apply(x, p)
    for i in range(x.size(0)):
        ref = F.resized_crop(x[i], int(p.top[i]), int(p.left[i]), int(p.height[i]),
                             int(p.width[i]), [24, 24], antialias=False)
        if p.flip[i]:
            ref = F.horizontal_flip(ref)
        assert torch.allclose(out[i], ref, atol=1e-5), i


def test_crop_boxes_follow_random_resized_crop_rules():
    views = BatchViews(ViewConfig(crop_scale=(0.2, 0.6), crop_ratio=(0.5, 2.0)))
    p = views.sample(4000, 32, 32, torch.Generator().manual_seed(0))
    area = (p.height * p.width).float() / 1024
    assert bool((p.top >= 0).all() and (p.left >= 0).all())
    assert bool((p.top + p.height <= 32).all() and (p.left + p.width <= 32).all())
    assert 0.17 < float(area.min()) and float(area.max()) < 0.65  # rounding to pixels
    ratio = p.width.float() / p.height.float()
    assert 0.4 < float(ratio.min()) and float(ratio.max()) < 2.3
    # impossible boxes (area share 1, ratio far from square) fall back to a centred crop
    tall = BatchViews(ViewConfig(crop_scale=(1.0, 1.0), crop_ratio=(3.0, 4.0)))
    q = tall.sample(5, 32, 32, torch.Generator().manual_seed(0))
    assert q.width.tolist() == [32] * 5 and q.height.tolist() == [11] * 5
    assert q.top.tolist() == [10] * 5 and q.left.tolist() == [0] * 5


def test_whole_share_keeps_the_whole_image_for_that_share_and_changes_nothing_else():
    base = BatchViews(ViewConfig(crop_scale=(0.2, 0.6)))
    mixed = BatchViews(ViewConfig(crop_scale=(0.2, 0.6), whole_share=0.3))
    p = mixed.sample(4000, 32, 40, torch.Generator().manual_seed(0))
    whole = (p.height == 32) & (p.width == 40) & (p.top == 0) & (p.left == 0)
    assert 0.27 < float(whole.float().mean()) < 0.33  # the share, drawn per image
    area = (p.height * p.width)[~whole].float() / (32 * 40)
    assert float(area.max()) < 0.65  # the others are the crops of crop_scale
    assert 0.4 < float(p.flip[whole].float().mean()) < 0.6  # still flipped and jittered
    # share 0 draws nothing extra: the default's views are bit-identical
    q0 = BatchViews(ViewConfig(crop_scale=(0.2, 0.6), whole_share=0.0)).sample(
        50, 32, 32, torch.Generator().manual_seed(1))
    q = base.sample(50, 32, 32, torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(vars(q).values(), vars(q0).values()))
    assert 'whole_share' not in ViewConfig().to_dict()  # older checkpoints still match
    assert ViewConfig.from_dict(ViewConfig(whole_share=0.5).to_dict()).whole_share == 0.5
    with pytest.raises(ValueError, match="'whole_share'"):
        ViewConfig(whole_share=1.5).validate()
    x = images()
    out = BatchViews(ViewConfig(whole_share=1.0, jitter_p=0.0, grayscale_p=0.0, flip_p=0.0))(
        x, torch.Generator().manual_seed(2))
    assert torch.allclose(out, x, atol=1e-5)  # every view the image itself


def test_color_jitter_and_grayscale_match_torchvision():
    x = images()
    g = torch.Generator().manual_seed(1)
    b = torch.empty(6).uniform_(0.6, 1.4, generator=g)
    c = torch.empty(6).uniform_(0.6, 1.4, generator=g)
    s = torch.empty(6).uniform_(0.6, 1.4, generator=g)
    h = torch.empty(6).uniform_(-0.1, 0.1, generator=g)
    active = torch.tensor([True, True, False, True, True, True])
    out = color_jitter(x, active, b, c, s, h)
    for i in range(6):
        ref = x[i]
        if active[i]:
            ref = F.adjust_brightness(ref, float(b[i]))
            ref = F.adjust_contrast(ref, float(c[i]))
            ref = F.adjust_saturation(ref, float(s[i]))
            ref = F.adjust_hue(ref, float(h[i]))
        assert torch.allclose(out[i], ref, atol=1e-5), i
    gray = BatchViews(ViewConfig(jitter_p=0, grayscale_p=1, crop_scale=(1, 1),
                                 crop_ratio=(1, 1), flip_p=0))(x)
    assert torch.allclose(gray, F.rgb_to_grayscale(x, num_output_channels=3), atol=1e-5)


def test_hue_rotation_matches_torchvision_on_extremes():
    x = torch.tensor([[1., 0, 0], [0, 1, 0], [0, 0, 1], [.5, .5, .5], [1, 1, 1], [0, 0, 0]])
    x = x.t().reshape(1, 3, 2, 3)
    for hue in (-0.5, -0.2, 0.0, 0.3, 0.5):
        out = adjust_hue(x, torch.tensor([hue]))
        assert torch.allclose(out[0], F.adjust_hue(x[0], hue), atol=1e-6), hue


def test_one_channel_images_get_brightness_and_contrast_only():
    x = images(c=1)
    views = BatchViews(ViewConfig(size=32, crop_scale=(1, 1), crop_ratio=(1, 1), flip_p=0,
                                  jitter_p=1, grayscale_p=1))
    p = views.sample(6, 32, 32, torch.Generator().manual_seed(0))
    out = views.apply(x, p)
    for i in range(6):
        ref = F.adjust_contrast(F.adjust_brightness(x[i], float(p.brightness[i])),
                                float(p.contrast[i]))
        assert torch.allclose(out[i], ref, atol=1e-5)


def test_views_are_deterministic_under_a_seed_and_normalised():
    x = (images() * 255).to(torch.uint8)
    views = BatchViews(ViewConfig(size=16), mean=[0.5, 0.4, 0.3], std=[0.2, 0.2, 0.2])
    a = views(x, torch.Generator().manual_seed(7))
    b = views(x, torch.Generator().manual_seed(7))
    c = views(x, torch.Generator().manual_seed(8))
    assert a.shape == (6, 3, 16, 16) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    plain = BatchViews(ViewConfig(size=32)).normalize(x)
    assert torch.allclose(plain, x.float() / 255)


def test_bad_view_inputs_name_the_problem():
    with pytest.raises(ValueError, match="'crop_scale'"):
        ViewConfig(crop_scale=(0.5, 0.2)).validate()
    with pytest.raises(ValueError, match="'hue'"):
        ViewConfig(hue=0.7).validate()
    with pytest.raises(ValueError, match="unknown view option.*'blur'"):
        ViewConfig.from_dict({'blur': 0.5})
    with pytest.raises(ValueError, match='C = 1 or 3'):
        BatchViews()(torch.zeros(2, 4, 32, 32))
    with pytest.raises(ValueError, match='C = 1 or 3'):
        BatchViews()(torch.zeros(32, 32, 3))
    with pytest.raises(ValueError, match="'std'"):
        BatchViews(mean=[0.5], std=[0.0])
