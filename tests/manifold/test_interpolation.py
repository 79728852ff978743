"""Grid-interpolated kernel sums (genurl_pyg.manifold.interpolation) against brute force."""
import pytest
import torch

from genurl_pyg.manifold.interpolation import interpolated_kernel_sums

NU = 0.3


def _w(d):
    return (1 + d / NU).pow(-(NU + 1) / 2)


def _c(d):
    return (1 + d / NU).pow(-(NU + 3) / 2)


def _cloud(n=1500, spread=15.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(n, 2, generator=g, dtype=torch.float64) * spread
    y[: n // 3] += 40.0  # two clusters: empty boxes between them
    charges = torch.cat([torch.ones(n, 1, dtype=torch.float64), y], 1)
    return y, charges


def _errors(box_width, n_interp=3):
    y, charges = _cloud()
    d = torch.cdist(y, y).pow(2)
    ref_w, ref_c = _w(d).sum(1, keepdim=True), _c(d) @ charges
    got_w, got_c = interpolated_kernel_sums(y, [_w, _c], charges, channels=[[0], [0, 1, 2]],
                                            box_width=box_width, n_interp=n_interp,
                                            max_boxes=10_000)
    force = y * ref_c[:, :1] - ref_c[:, 1:]  # the layout's repulsive direction
    got_force = y * got_c[:, :1] - got_c[:, 1:]
    return (abs(got_w.sum() / ref_w.sum() - 1).item(),
            ((got_force - force).norm(dim=1) / force.norm(dim=1)).median().item())


def test_sums_match_brute_force_at_the_layout_grid():
    z_err, force_err = _errors(box_width=3 * 0.35 * NU ** 0.5)
    assert z_err < 3e-3 and force_err < 0.02


def test_a_finer_grid_is_more_accurate():
    coarse, fine = _errors(1.2), _errors(0.3)
    assert fine[0] < coarse[0] and fine[1] < coarse[1] / 4
    assert _errors(0.6, n_interp=5)[1] < _errors(0.6, n_interp=3)[1]


def test_float32_and_dtype_of_the_result():
    y, charges = _cloud(300)
    (out,) = interpolated_kernel_sums(y.float(), [_c], charges.float(), dtype=torch.float32)
    (ref,) = interpolated_kernel_sums(y, [_c], charges)
    assert out.dtype == torch.float32 and out.shape == (300, 3)
    torch.testing.assert_close(out.double(), ref, rtol=1e-4, atol=1e-4)


def test_bad_inputs_name_the_problem():
    y, charges = _cloud(50)
    with pytest.raises(ValueError, match=r'2-D points \[N, 2\]'):
        interpolated_kernel_sums(torch.cat([y, y[:, :1]], 1), [_c], charges)
    with pytest.raises(ValueError, match='2 kernels but 1 channel lists'):
        interpolated_kernel_sums(y, [_w, _c], charges, channels=[[0]])


def test_cached_spectra_give_the_same_sums_and_are_reused():
    """With a cache, a second call on a slightly moved layout reuses the kernels' spectra
    (same grid: rounded box count) and gives what a call without the cache gives."""
    y, charges = _cloud(400)
    cache = {}
    grid = dict(round_boxes=8, box_width=1.0)
    first = interpolated_kernel_sums(y, [_w, _c], charges, cache=cache, **grid)
    spectra = {k: id(v) for k, v in cache.items()}
    moved = y * 1.001
    again = interpolated_kernel_sums(moved, [_w, _c], charges, cache=cache, **grid)
    assert len(spectra) == 2 and {k: id(v) for k, v in cache.items()} == spectra
    for a, b in zip(again, interpolated_kernel_sums(moved, [_w, _c], charges, **grid)):
        torch.testing.assert_close(a, b)
    assert not torch.allclose(first[1], again[1])
