"""The SSL task's row draws: a class-mixed subset and held-out rows beside it."""
import pytest
import torch

from genurl_pyg.bench.tasks.ssl import rows_beside_subset, subset_rows


def _rows(n=100):
    x = torch.arange(n).view(n, 1, 1, 1)  # each image holds its own row number
    return x, torch.arange(n) % 10


def test_held_out_rows_are_the_next_of_the_subsets_permutation():
    x, y = _rows()
    sx, _ = subset_rows(x, y, 30)
    hx, hy = rows_beside_subset(x, y, 30, 50)
    train, held = set(sx.flatten().tolist()), set(hx.flatten().tolist())
    assert len(train) == 30 and len(held) == 50 and not train & held
    order = torch.randperm(100, generator=torch.Generator().manual_seed(0))
    assert hx.flatten().tolist() == order[30:80].tolist()  # brute force: the next 50
    assert torch.equal(hy, hx.flatten() % 10)  # labels travel with their images
    assert len(set(hy.tolist())) == 10  # class-mixed (the set's rows cycle the classes)


def test_held_out_rows_that_do_not_fit_are_refused():
    x, y = _rows()
    with pytest.raises(ValueError, match='need 101 rows; the set has 100'):
        rows_beside_subset(x, y, 30, 71)
    with pytest.raises(ValueError, match='beside a subset of 100'):
        rows_beside_subset(x, y, 0, 10)  # no subset: every row trains
    with pytest.raises(ValueError, match='at least 1'):
        rows_beside_subset(x, y, 30, 0)
