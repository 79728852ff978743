r"""Random views of an image batch, drawn per image and applied on the batch's device.

The SimCLR family of augmentations, as ``torchvision.transforms.v2`` defines them: a random
resized crop (area share in ``crop_scale``, aspect ratio in ``crop_ratio``, bilinear
resize to ``size``), a horizontal flip, colour jitter (brightness, contrast, saturation,
hue) with probability ``jitter_p``, grayscale with probability ``grayscale_p``, then
normalisation by the training set's channel mean and standard deviation. No blur: at 32
pixels it destroys the image (SimCLR leaves it out on CIFAR).

Why not a ``v2.Compose`` on the batch: a v2 transform draws *one* set of parameters per
call, so on a ``[B, C, H, W]`` tensor every image would get the same crop and the same
jitter. Here the parameters are drawn per image from an explicit CPU
:class:`torch.Generator` (so a seed gives the same views on CPU and CUDA) and the v2
functional definitions are applied to the whole batch at once:

* crop + resize + flip: one affine grid per image, clamped to the crop box, and one
  ``grid_sample`` (bilinear), the same sampling positions as ``v2.functional.resized_crop`` with
  ``antialias=False`` followed by ``horizontal_flip``;
* brightness :math:`x b`, contrast :math:`c x + (1 - c) \bar g` (:math:`\bar g` the image's
  mean gray level), saturation :math:`s x + (1 - s) g` (:math:`g` the gray image), hue
  (a rotation of the HSV hue by :math:`h`), each clamped to [0, 1] as v2 does, in that
  fixed order (v2's ``ColorJitter`` shuffles the order per call);
* grayscale: ITU-R 601 weights (0.2989, 0.587, 0.114), kept 3-channel.

``tests/vision/test_views.py`` checks every step against ``torchvision.transforms.v2.
functional`` image by image. Cost O(B·C·S²) per call, memory O(B·C·S²): two views of a
512-image CIFAR batch are 12 MB in float32.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..node.config import check_integer, check_number, checked_keys

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601-2 luma, as torchvision


@dataclass
class ViewConfig:
    """Parameters of :class:`BatchViews` (the SimCLR CIFAR defaults). ``whole_share`` (ours,
    default 0): the share of the images, drawn per image, whose view keeps the whole image
    (no crop; flip, jitter and grayscale still drawn), for a batch that mixes cropped views
    with whole ones."""
    size: int = 32
    crop_scale: Tuple[float, float] = (0.08, 1.0)
    whole_share: float = 0.0
    crop_ratio: Tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    grayscale_p: float = 0.2

    def validate(self) -> 'ViewConfig':
        check_integer(self.size, 'size', 1, what='views')
        for name in ('crop_scale', 'crop_ratio'):
            lo, hi = _pair(getattr(self, name), name)
            if not 0 < lo <= hi or (name == 'crop_scale' and hi > 1):
                raise ValueError(f"views {name!r} must be (low, high) with 0 < low <= high"
                                 f"{' <= 1' if name == 'crop_scale' else ''}, got "
                                 f"{getattr(self, name)!r}")
        for name in ('flip_p', 'jitter_p', 'grayscale_p', 'whole_share'):
            check_number(getattr(self, name), name, 0.0, 1.0, what='views')
        for name in ('brightness', 'contrast', 'saturation'):
            check_number(getattr(self, name), name, 0.0, what='views')
        check_number(self.hue, 'hue', 0.0, 0.5, what='views')
        return self

    @classmethod
    def from_dict(cls, values: Optional[Dict[str, Any]]) -> 'ViewConfig':
        values = checked_keys(values, cls, 'view option', '; known: ' + ', '.join(
            sorted(f.name for f in fields(cls))))
        for key in ('crop_scale', 'crop_ratio'):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values).validate()

    def to_dict(self) -> Dict[str, Any]:
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if not self.whole_share:  # added later: at its default the dict is the one that
            del out['whole_share']  # checkpoints and run identities were written with
        return out


def _pair(value, name) -> Tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise ValueError(f"views {name!r} must be two numbers (low, high), got {value!r}")
    return float(value[0]), float(value[1])


@dataclass
class ViewParams:
    """Per-image parameters of one call (all ``[B]`` tensors on the CPU): crop box
    ``top, left, height, width`` in pixels, ``flip`` (bool), ``jitter`` (bool) with factors
    ``brightness, contrast, saturation, hue``, ``gray`` (bool)."""
    top: Tensor
    left: Tensor
    height: Tensor
    width: Tensor
    flip: Tensor
    jitter: Tensor
    brightness: Tensor
    contrast: Tensor
    saturation: Tensor
    hue: Tensor
    gray: Tensor


class BatchViews:
    """Draws and applies one random view per image of a batch (see the module doc).

    Args:
        config: a :class:`ViewConfig` (or a dict of its fields).
        mean, std: per-channel normalisation of the [0, 1] images (``None``: none).
    """

    def __init__(self, config: Optional[ViewConfig] = None,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None) -> None:
        if isinstance(config, dict) or config is None:
            config = ViewConfig.from_dict(config)
        self.config = config.validate()
        self.mean = None if mean is None else torch.as_tensor(mean, dtype=torch.float32)
        self.std = None if std is None else torch.as_tensor(std, dtype=torch.float32)
        if self.std is not None and bool((self.std <= 0).any()):
            raise ValueError(f"'std' must be positive, got {self.std.tolist()}")

    def __repr__(self) -> str:
        c = self.config
        return (f'BatchViews(size={c.size}, crop_scale={c.crop_scale}, flip_p={c.flip_p}, '
                f'jitter_p={c.jitter_p}, grayscale_p={c.grayscale_p}'
                + (f', whole_share={c.whole_share}' if c.whole_share else '') + ')')

    # -- parameters ---------------------------------------------------------------------------
    def sample(self, batch: int, height: int, width: int,
               generator: Optional[torch.Generator] = None) -> ViewParams:
        """Per-image parameters, drawn on the CPU from ``generator``. The crop follows
        ``v2.RandomResizedCrop``: up to 10 tries of (area share, log aspect ratio) for a box
        that fits, else the whole image with its ratio clamped to ``crop_ratio``."""
        c, g = self.config, generator
        area = float(height * width)
        tries = 10
        scale = torch.empty(batch, tries).uniform_(*c.crop_scale, generator=g) * area
        log_r = torch.empty(batch, tries).uniform_(math.log(c.crop_ratio[0]),
                                                   math.log(c.crop_ratio[1]), generator=g)
        ratio = log_r.exp()
        w = (scale * ratio).sqrt().round()
        h = (scale / ratio).sqrt().round()
        ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
        first = torch.where(ok.any(1), ok.float().argmax(1), torch.full((batch,), -1))
        u_top = torch.rand(batch, generator=g)
        u_left = torch.rand(batch, generator=g)
        rows = torch.arange(batch)
        pick = first.clamp_min(0)
        hh, ww = h[rows, pick], w[rows, pick]
        # the fallback: a centred box of the clamped ratio
        in_ratio = width / height
        if in_ratio < c.crop_ratio[0]:
            fw, fh = width, round(width / c.crop_ratio[0])
        elif in_ratio > c.crop_ratio[1]:
            fh, fw = height, round(height * c.crop_ratio[1])
        else:
            fw, fh = width, height
        fail = first < 0
        hh = torch.where(fail, torch.full_like(hh, fh), hh)
        ww = torch.where(fail, torch.full_like(ww, fw), ww)
        top = torch.floor(u_top * (height - hh + 1)).clamp_max(height - hh)
        left = torch.floor(u_left * (width - ww + 1)).clamp_max(width - ww)
        top = torch.where(fail, torch.full_like(top, (height - fh) // 2), top)
        left = torch.where(fail, torch.full_like(left, (width - fw) // 2), left)
        if c.whole_share > 0:  # drawn only when asked, so the default's stream is unchanged
            whole = torch.rand(batch, generator=g) < c.whole_share
            hh = torch.where(whole, torch.full_like(hh, height), hh)
            ww = torch.where(whole, torch.full_like(ww, width), ww)
            top = torch.where(whole, torch.zeros_like(top), top)
            left = torch.where(whole, torch.zeros_like(left), left)

        def factor(strength):
            return torch.empty(batch).uniform_(max(0.0, 1 - strength), 1 + strength,
                                               generator=g)
        flip = torch.rand(batch, generator=g) < c.flip_p
        jitter = torch.rand(batch, generator=g) < c.jitter_p
        b, ct, s = factor(c.brightness), factor(c.contrast), factor(c.saturation)
        hue = torch.empty(batch).uniform_(-c.hue, c.hue, generator=g)
        gray = torch.rand(batch, generator=g) < c.grayscale_p
        return ViewParams(top.long(), left.long(), hh.long(), ww.long(), flip, jitter, b, ct,
                          s, hue, gray)

    # -- application --------------------------------------------------------------------------
    def apply(self, images: Tensor, params: ViewParams) -> Tensor:
        """``images`` ``uint8`` in [0, 255] or float in [0, 1], ``[B, C, H, W]`` (C = 1 or
        3); returns float32 ``[B, C, size, size]`` on the images' device."""
        x = _as_float(images)
        dev = x.device
        p = {k: v.to(dev) for k, v in vars(params).items()}
        x = crop_resize_flip(x, p['top'], p['left'], p['height'], p['width'], p['flip'],
                             self.config.size)
        if x.size(1) == 3 or x.size(1) == 1:
            x = color_jitter(x, p['jitter'], p['brightness'], p['contrast'], p['saturation'],
                             p['hue'])
        if x.size(1) == 3:
            x = torch.where(p['gray'].view(-1, 1, 1, 1), to_gray(x).expand_as(x), x)
        if self.mean is not None:
            c = x.size(1)
            x = (x - self.mean.to(dev).view(1, c, 1, 1)) / self.std.to(dev).view(1, c, 1, 1)
        return x

    def __call__(self, images: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        if images.dim() != 4 or images.size(1) not in (1, 3):
            raise ValueError(f'views need a batch [B, C, H, W] with C = 1 or 3, got shape '
                             f'{tuple(images.shape)}')
        b, _, h, w = images.shape
        return self.apply(images, self.sample(b, h, w, generator))

    def normalize(self, images: Tensor) -> Tensor:
        """The evaluation input: no augmentation, resized to ``size`` if needed, normalised."""
        x = _as_float(images)
        if x.shape[-2:] != (self.config.size, self.config.size):
            x = F.interpolate(x, size=(self.config.size,) * 2, mode='bilinear',
                              align_corners=False)
        if self.mean is not None:
            c = x.size(1)
            x = (x - self.mean.to(x.device).view(1, c, 1, 1)) / self.std.to(x.device).view(
                1, c, 1, 1)
        return x


def _as_float(images: Tensor) -> Tensor:
    if images.dtype == torch.uint8:
        return images.float().div_(255)
    if not images.is_floating_point():
        raise ValueError(f'images must be uint8 or floating point, got {images.dtype}')
    return images.float()


def crop_resize_flip(x: Tensor, top: Tensor, left: Tensor, height: Tensor, width: Tensor,
                     flip: Tensor, size: int) -> Tensor:
    """Per-image ``resized_crop(x, top, left, height, width, [size, size], bilinear,
    antialias=False)`` then ``horizontal_flip`` where ``flip``: one ``grid_sample``."""
    b, _, h, w = x.shape
    hf, wf = height.to(x.dtype), width.to(x.dtype)
    sx = wf / w * torch.where(flip, -1.0, 1.0).to(x.dtype)
    sy = hf / h
    cx = (2 * left.to(x.dtype) + wf) / w - 1
    cy = (2 * top.to(x.dtype) + hf) / h - 1
    theta = torch.zeros(b, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0], theta[:, 0, 2] = sx, cx
    theta[:, 1, 1], theta[:, 1, 2] = sy, cy
    grid = F.affine_grid(theta, [b, x.size(1), size, size], align_corners=False)
    # A crop's edge pixels clamp the interpolation (crop, then resize), not the image's:
    # keep every sampling position between the centres of the box's first and last pixel.
    lo_x = ((2 * left.to(x.dtype) + 1) / w - 1).view(b, 1, 1)
    hi_x = ((2 * (left + width - 1).to(x.dtype) + 1) / w - 1).view(b, 1, 1)
    lo_y = ((2 * top.to(x.dtype) + 1) / h - 1).view(b, 1, 1)
    hi_y = ((2 * (top + height - 1).to(x.dtype) + 1) / h - 1).view(b, 1, 1)
    grid = torch.stack([torch.maximum(torch.minimum(grid[..., 0], hi_x), lo_x),
                        torch.maximum(torch.minimum(grid[..., 1], hi_y), lo_y)], dim=-1)
    return F.grid_sample(x, grid, mode='bilinear', padding_mode='border', align_corners=False)


def to_gray(x: Tensor) -> Tensor:
    """``[B, 1, H, W]`` luma of RGB ``x`` (identity for one channel)."""
    if x.size(1) == 1:
        return x
    wt = torch.tensor(GRAY_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * wt).sum(1, keepdim=True)


def color_jitter(x: Tensor, active: Tensor, brightness: Tensor, contrast: Tensor,
                 saturation: Tensor, hue: Tensor) -> Tensor:
    """Brightness, contrast, saturation, hue (that order) where ``active``; per-image factors
    ``[B]``. One-channel images get brightness and contrast only (as in torchvision)."""
    def view(t):
        return t.to(x.dtype).view(-1, 1, 1, 1)
    out = (x * view(brightness)).clamp(0, 1)
    mean = to_gray(out).mean(dim=(1, 2, 3), keepdim=True)
    out = (view(contrast) * out + (1 - view(contrast)) * mean).clamp(0, 1)
    if x.size(1) == 3:
        out = (view(saturation) * out + (1 - view(saturation)) * to_gray(out)).clamp(0, 1)
        out = adjust_hue(out, hue)
    return torch.where(active.view(-1, 1, 1, 1), out, x)


def adjust_hue(x: Tensor, hue: Tensor) -> Tensor:
    """Rotates the HSV hue of RGB ``x`` in [0, 1] by ``hue[b]`` (in turns), per image."""
    r, g, b = x.unbind(1)
    maxc, _ = x.max(1)
    minc, _ = x.min(1)
    eqc = maxc == minc
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    crd = torch.where(eqc, ones, cr)
    rc, gc, bc = (maxc - r) / crd, (maxc - g) / crd, (maxc - b) / crd
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = torch.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    h = torch.remainder(h + hue.to(x.dtype).view(-1, 1, 1), 1.0)
    v = maxc
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.to(torch.int64) % 6
    p = (v * (1.0 - s)).clamp(0.0, 1.0)
    q = (v * (1.0 - s * f)).clamp(0.0, 1.0)
    t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0)
    mask = i.unsqueeze(1) == torch.arange(6, device=x.device).view(1, -1, 1, 1)
    a1 = torch.stack((v, q, p, p, t, v), dim=1)
    a2 = torch.stack((t, v, v, q, p, p), dim=1)
    a3 = torch.stack((p, p, t, v, v, q), dim=1)
    a4 = torch.stack((a1, a2, a3), dim=1)  # [B, 3, 6, H, W]
    return (a4 * mask.unsqueeze(1).to(x.dtype)).sum(2)
