"""The shared input checks: ``all_finite`` against the entry-wise reference."""
import pytest
import torch

from genurl_pyg._validation import all_finite, check_features


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64, torch.float16])
def test_all_finite_agrees_with_the_entry_wise_check(dtype):
    g = torch.Generator().manual_seed(0)
    big = torch.finfo(dtype).max
    cases = [torch.randn(50, 7, generator=g),
             torch.zeros(0, 3),
             torch.full((4, 4), big / 2, dtype=dtype),  # every entry finite, the sum
             torch.tensor([[big, big], [-big, 1.0]], dtype=dtype)]  # overflows
    for bad in (float('nan'), float('inf'), float('-inf')):
        t = torch.randn(30, 5, generator=g)
        t[7, 3] = bad
        cases.append(t)
    both = torch.randn(6, 6, generator=g)
    both[0, 0], both[5, 5] = float('inf'), float('-inf')  # their sum is NaN
    cases.append(both)
    for t in cases:
        t = t.to(dtype)
        assert all_finite(t) == bool(torch.isfinite(t).all()), t
    assert not bool(torch.isfinite(cases[2].to(dtype).sum()))  # the fallback was taken
    assert all_finite(torch.arange(10))  # integers are always finite


def test_check_features_names_the_non_finite_entries_even_when_the_sum_overflows():
    x = torch.full((3, 2), torch.finfo(torch.float32).max)
    assert check_features(x) is x  # huge but finite: accepted
    x[1, 1] = float('nan')
    with pytest.raises(ValueError, match="'x' contains 1 NaN or infinite value"):
        check_features(x)
