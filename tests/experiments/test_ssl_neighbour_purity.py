"""experiments/ssl_neighbour_purity.py: the neighbours it scores (the memory bank's own
search, ``nearest_other_images``) are of other images, and the share is the brute-force
same-label fraction."""
import math
import sys
from pathlib import Path

import torch

from genurl_pyg.vision.memory_bank import nearest_other_images

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import ssl_neighbour_purity as snp  # noqa: E402


def test_neighbours_skip_the_rows_own_image_and_purity_counts_labels():
    g = torch.Generator().manual_seed(0)
    rows, cols = torch.randn(6, 4, generator=g), torch.randn(9, 4, generator=g)
    row_ids = torch.tensor([0, 1, 2, 0, 1, 2])
    col_ids = torch.tensor([0, 0, 1, 3, 4, 5, 6, 7, 8])
    k = 3
    got = nearest_other_images(rows @ cols.t(), row_ids, col_ids, k).indices
    for i in range(6):  # brute force: sort by similarity, drop the own image, take k
        ranked = sorted(range(9), key=lambda j: -float(rows[i] @ cols[j]))
        want = [j for j in ranked if col_ids[j] != row_ids[i]][:k]
        assert sorted(got[i].tolist()) == sorted(want)
    y_rows = torch.tensor([0, 1, 0, 1, 0, 1])
    y_cols = torch.tensor([0, 0, 1, 1, 0, 1, 0, 1, 0])
    share = snp.purity(y_rows, y_cols, got)
    same = sum(int(y_cols[j] == y_rows[i]) for i in range(6) for j in got[i].tolist())
    assert abs(share - same / (6 * k)) < 1e-6


def test_purity_over_the_kept_neighbours_only():
    y_rows = torch.tensor([0, 1])
    y_cols = torch.tensor([0, 1, 1, 0])
    nearest = torch.tensor([[0, 1], [1, 3]])  # row 0: same, other; row 1: same, other
    keep = torch.tensor([[True, False], [False, True]])
    assert snp.purity(y_rows, y_cols, nearest) == 0.5
    assert snp.purity(y_rows, y_cols, nearest, keep) == 0.5  # one same, one other kept
    assert snp.purity(y_rows, y_cols, nearest, torch.tensor([[True, False], [True, False]])) == 1
    assert math.isnan(snp.purity(y_rows, y_cols, nearest, torch.zeros(2, 2, dtype=torch.bool)))
