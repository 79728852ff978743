"""experiments/kd_neighbour_agreement.py: the overlap of two neighbour tables by brute force,
and the measurement on a graph whose teacher embedding is the features themselves (overlap
1) or unrelated to them (overlap near chance)."""
import sys
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import kd_neighbour_agreement as kna  # noqa: E402


def test_knn_overlap_counts_shared_neighbours_per_row():
    a = torch.tensor([[1, 2, 3], [0, 2, 3]])
    b = torch.tensor([[3, 1, 0], [4, 5, 6]])
    assert kna.knn_overlap(a, b) == pytest.approx((2 / 3 + 0) / 2)
    assert kna.knn_overlap(a, a) == 1.0


@pytest.mark.parametrize('teacher_is_x', [True, False])
def test_measure_reads_the_observed_nodes(monkeypatch, teacher_is_x):
    import genurl_pyg.datasets as datasets
    import genurl_pyg.distill.run as run
    g = torch.Generator().manual_seed(0)
    n = 400
    x = torch.randn(n, 16, generator=g)
    edges = torch.randint(0, n, (2, 1200), generator=g)
    data = Data(x=x, edge_index=edges, y=torch.randint(0, 3, (n,), generator=g))
    monkeypatch.setattr(datasets, 'load_dataset', lambda name: data)
    monkeypatch.setattr(datasets, 'get_spec', lambda name: type('S', (), {
        'protocol': 'random-10/10/80'})())
    seen = {}

    def fake_teacher(data_, dataset, seed, held):
        seen['held'] = held
        kept = data_.x[~held]
        return (kept.clone() if teacher_is_x else torch.randn(kept.shape, generator=g),
                None, 0.0, None)
    monkeypatch.setattr(run, 'train_teacher', fake_teacher)
    row = kna.measure('Fake', 0)
    assert row['observed_nodes'] == int((~seen['held']).sum()) < n
    if teacher_is_x:
        assert row['knn_overlap'] == pytest.approx(1.0)
        assert row['agreement'] > 0.5  # k = 50 of 16-dim Gaussian points: ~0.73
    else:
        assert row['knn_overlap'] < 3 * row['chance']
        assert abs(row['agreement']) < 0.1
    assert '| Fake | 0 |' in kna.table([row], 'cmd')


def test_bad_out_is_refused():
    with pytest.raises(SystemExit):
        kna.main(['--out', '../x'])
