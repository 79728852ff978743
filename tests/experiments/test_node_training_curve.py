"""experiments/node_training_curve.py: the probe points along one short run, the selection
accuracy's weighting, and the table."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import node_training_curve as ntc  # noqa: E402


def test_selection_weights_validation_and_holdout_by_their_nodes():
    from genurl_pyg.evaluation import linear_probe
    g = torch.Generator().manual_seed(0)
    y = torch.arange(120) % 3
    h = torch.randn(120, 5, generator=g) + torch.nn.functional.one_hot(y, 3).float() @ \
        torch.randn(3, 5, generator=g)
    train = torch.zeros(120, dtype=torch.bool)
    val, test = train.clone(), train.clone()
    train[:30], val[30:50], test[50:80] = True, True, True  # nodes 80-119: the holdout
    p = ntc.probe_point(h, y, (train, val, test), 7, 0.5)
    hold = linear_probe(h, y, train, val, ~(train | val | test)).test_accuracy
    assert p['holdout'] == pytest.approx(hold)
    assert p['selection'] == pytest.approx((p['val'] * 20 + hold * 40) / 60)
    assert p['epoch'] == 7 and 1.0 <= p['effective_rank'] <= 5.0
    covered = ntc.probe_point(h, y, (train, val, ~(train | val)), 0, None)
    assert covered['holdout'] is None and covered['selection'] == covered['val']


def test_curve_on_karateclub_starts_untrained_and_ends_at_the_configs_epochs():
    from genurl_pyg.node import NodeConfig
    cfg = NodeConfig(epochs=4, hidden_channels=16, out_channels=8, k=5)
    points = ntc.curve('KarateClub', cfg, 0, [2, 4, 9])  # 9 > epochs: not reached
    assert [p['epoch'] for p in points] == [0, 2, 4]
    assert points[0]['loss'] is None and all(p['loss'] > 0 for p in points[1:])
    assert all(p['seed'] == 0 for p in points)
    md = ntc.markdown({'dataset': 'KarateClub', 'commands': ['x'], 'threads': 1,
                       'rows': points})
    assert '| 0 |  |' in md and md.count('\n| ') == 4  # the header and three epochs
