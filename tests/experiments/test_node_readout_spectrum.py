"""experiments/node_readout_spectrum.py: the read-outs against scikit-learn's PCA, and
bad inputs named."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import node_readout_spectrum as nrs  # noqa: E402


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(200, 12, generator=g) * torch.linspace(0.1, 3.0, 12)


def test_principal_components_match_sklearn_up_to_sign():
    from sklearn.decomposition import PCA
    h = _data()
    ours = nrs.principal_components(h, 5).numpy()
    ref = PCA(n_components=5).fit_transform(h.double().numpy())
    assert np.allclose(np.abs(ours), np.abs(ref), atol=1e-4)


def test_whitened_has_identity_covariance_and_keeps_the_rows():
    w = nrs.whitened(_data()).double()
    cov = (w - w.mean(0)).T @ (w - w.mean(0)) / w.size(0)
    assert torch.allclose(cov, torch.eye(12, dtype=torch.float64), atol=1e-4)
    assert nrs.readouts(_data(), [3])['pca3'].shape == (200, 3)


@pytest.mark.parametrize('h, rank, match', [(torch.zeros(1, 4), None, r'\[N >= 2'),
                                             (torch.zeros(5, 4), 6, 'rank must be')])
def test_bad_inputs_are_named(h, rank, match):
    with pytest.raises(ValueError, match=match):
        nrs.principal_components(h, rank)


def test_bad_ranks_are_refused():
    with pytest.raises(SystemExit):
        nrs.main(['--pca', '0'])


def test_a_rank_wider_than_the_embedding_is_refused_before_training(monkeypatch, capsys):
    import genurl_pyg.datasets
    import genurl_pyg.node
    from torch_geometric.data import Data
    from genurl_pyg.node import NodeConfig, dataset_defaults

    def no_training(*args, **kwargs):
        raise AssertionError('trained before refusing the rank')
    monkeypatch.setattr(genurl_pyg.datasets, 'load_dataset',
                        lambda name: Data(num_nodes=2708))
    monkeypatch.setattr(genurl_pyg.node, 'NodeEmbeddingTrainer', no_training)
    width = nrs.embedding_width(NodeConfig.from_dict({}, dataset_defaults('Cora')))
    assert width == dataset_defaults('Cora').out_channels
    with pytest.raises(SystemExit):
        nrs.main(['--dataset', 'Cora', '--pca', '16', str(width + 1)])
    assert f'{width} principal components' in capsys.readouterr().err
    assert nrs.embedding_width(NodeConfig(encoder='ego-gcn', out_channels=64)) == 128
    # 'auto' (CiteSeer's shipped encoder) may resolve to ego-gcn: bounded by the wider, so
    # a rank that ego-gcn's embedding has is never refused before training
    assert nrs.embedding_width(NodeConfig(encoder='auto', out_channels=64)) == 128
