"""experiments/node_variants.py end to end on KarateClub: the saved predictions are what
the probe printed, name their variant with its overrides (files of different variants
cannot be joined as one), pair with experiments/paired_nodes.py, and report the scale Q
reads; a peer variant refuses GenURL-only options."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import node_variants  # noqa: E402
from paired_nodes import compare, load_runs  # noqa: E402


def run(monkeypatch, capsys, *argv):
    monkeypatch.setattr(sys, 'argv', ['node_variants.py', '--dataset', 'KarateClub', *argv])
    node_variants.main()
    return capsys.readouterr().out


def test_saved_predictions_match_the_printed_accuracy(monkeypatch, capsys, tmp_path):
    npz = tmp_path / 'base.npz'
    out = run(monkeypatch, capsys, '--seeds', '2', '--set', 'epochs=3',
              '--save-predictions', str(npz), '--holdout')
    summary = json.loads(out.strip().splitlines()[-1])
    saved = np.load(npz)
    assert saved['predictions'].shape == (2, 34)
    assert list(saved['seeds']) == [0, 1]
    assert str(saved['variant']) == 'base {"epochs": 3}'
    val = [(saved['predictions'][s] == saved['labels'])[saved['masks'][s, 1]].mean()
           for s in range(2)]
    assert summary['val'] == pytest.approx(np.mean(val))
    assert out.count('scale: mean |h|') == 2
    assert out.count('holdout: none') == 2  # KarateClub's random split covers every node
    assert 'holdout' not in summary
    res = compare(load_runs([str(npz)]), load_runs([str(npz)]))
    assert res['val']['diff'] == 0.0 and res['test']['disagree'] == 0.0
    # every C's predictions, the chosen C's among them (paired_nodes.py --fixed-c)
    by_c, cs = saved['predictions_by_c'], list(saved['cs'])
    assert by_c.shape == (2, len(cs), 34)
    for s in range(2):
        np.testing.assert_array_equal(saved['predictions'][s],
                                      by_c[s, cs.index(saved['chosen_c'][s])])


def test_peer_variants_refuse_genurl_options(monkeypatch, capsys):
    with pytest.raises(SystemExit):
        run(monkeypatch, capsys, '--variant', 'peer:dgi', '--readout-cat')
    assert '--readout-cat, --readout-preact, --readout-swa and --base describe a GenURL ' \
        'run' in capsys.readouterr().err.replace('\n', ' ')
    with pytest.raises(SystemExit):
        run(monkeypatch, capsys, '--variant', 'peer:dgi', '--readout-swa', '0.5')


def test_readout_swa_probes_the_averaged_parameters_beside_the_base(monkeypatch, capsys,
                                                                     tmp_path):
    import torch
    from genurl_pyg.node import NodeConfig, NodeEmbeddingTrainer
    from torch_geometric.datasets import KarateClub
    npz = tmp_path / 'base.npz'
    out = run(monkeypatch, capsys, '--seeds', '1', '--set', 'epochs=4',
              '--readout-swa', '0.5', '--save-predictions', str(npz))
    assert 'readout averaged from epoch 2 (2 steps)' in out
    base, swa = np.load(npz), np.load(tmp_path / 'base_swa.npz')
    assert str(swa['variant']) == str(base['variant']) + ' swa 0.5'
    np.testing.assert_array_equal(swa['masks'], base['masks'])
    summary = json.loads(out.strip().splitlines()[-1])
    val = (swa['predictions'][0] == swa['labels'])[swa['masks'][0, 1]].mean()
    assert summary['swa_val'] == pytest.approx(val)
    # the average is the mean of the parameters after the last two steps, by hand
    data = KarateClub()[0]
    trainer = NodeEmbeddingTrainer(data, NodeConfig.from_dict({'epochs': 4, 'seed': 0},
                                                              node_variants_base()))
    average = node_variants.ParameterAverage(trainer, 2)
    snapshots = []
    apply_step = trainer._apply

    def record(loss):
        out = apply_step(loss)
        snapshots.append({n: p.detach().clone() for n, p in trainer.model.named_parameters()})
        return out
    trainer._apply = record
    trainer.fit()
    final = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    for n in final:
        torch.testing.assert_close(average.mean[n], (snapshots[2][n] + snapshots[3][n]) / 2)
    average.embed()  # the trained parameters come back afterwards
    for n, p in trainer.model.named_parameters():
        assert torch.equal(p, final[n])
    with pytest.raises(SystemExit):
        run(monkeypatch, capsys, '--readout-swa', '1.0')


def node_variants_base():
    from genurl_pyg.node import dataset_defaults
    return dataset_defaults('KarateClub')


def test_block_distance_gives_the_product_of_the_blocks_kernels():
    import torch
    from genurl_pyg.structure.kernels import student_t
    g = torch.Generator().manual_seed(0)
    z = torch.randn(10, 12, generator=g, dtype=torch.float64)
    i, j = torch.tensor([0, 1, 2, 3]), torch.tensor([5, 6, 7, 9])
    for blocks, nu in ((1, 1.0), (3, 1.77), (12, 5.0)):
        d = node_variants.block_distance(z, i, j, blocks, nu)
        per_block = (z[i] - z[j]).pow(2).view(4, blocks, -1).sum(-1)
        peak = student_t(torch.zeros(1, dtype=torch.float64), nu)  # the base kernel's Q(0)
        assert torch.allclose(student_t(d, nu),
                              peak * student_t(per_block, nu, normalize=True).prod(-1))
    assert torch.allclose(node_variants.block_distance(z, i, j, 1, 2.0),
                          (z[i] - z[j]).pow(2).sum(1))  # one block: the plain distance
    with pytest.raises(ValueError, match='do not split into 5 equal blocks'):
        node_variants.block_distance(z, i, j, 5, 1.0)


def test_blocks1_trains_as_the_base(monkeypatch, capsys):
    args = ('--seeds', '1', '--set', 'epochs=3', 'batch_mode="sampled"', 'num_pos=200',
            'num_neg=400')
    base = json.loads(run(monkeypatch, capsys, *args).strip().splitlines()[-1])
    one = json.loads(run(monkeypatch, capsys, '--variant', 'blocks1', *args)
                     .strip().splitlines()[-1])
    assert one['val'] == pytest.approx(base['val'])


def test_preact_readout_is_the_input_of_the_last_activation(monkeypatch, capsys):
    import torch
    from genurl_pyg.node import NodeConfig, NodeEmbeddingTrainer
    from ..node.test_trainer import karate
    trainer = NodeEmbeddingTrainer(karate(), NodeConfig(epochs=2, hidden_channels=8,
                                                        out_channels=8, k=5))
    trainer.fit()
    pre = node_variants.pre_activation(trainer)
    with torch.no_grad():
        assert torch.allclose(trainer.model.encoder.act(pre), trainer.embed(), atol=1e-6)
        assert torch.allclose(pre, trainer.model.encoder.gnn(trainer.x_enc, trainer.graph))
    # KarateClub by name has no features: its node-id table ends with no activation
    with pytest.raises(SystemExit, match='needs an encoder that ends with an activation'):
        run(monkeypatch, capsys, '--seeds', '1', '--set', 'epochs=2', '--readout-preact')


def test_protocol_replaces_the_split_and_is_saved(monkeypatch, capsys, tmp_path):
    from genurl_pyg.datasets import load_dataset
    from genurl_pyg.evaluation import split_for
    npz = tmp_path / 'rs.npz'
    run(monkeypatch, capsys, '--seeds', '1', '--first-seed', '3', '--set', 'epochs=2',
        '--protocol', 'random-10/10/80', '--save-predictions', str(npz))
    saved = np.load(npz)
    assert str(saved['protocol']) == 'random-10/10/80'
    want = split_for(load_dataset('KarateClub'), 'random-10/10/80', 3)
    assert np.array_equal(saved['masks'][0], np.stack([m.numpy() for m in want]))
    own = tmp_path / 'own.npz'  # the data set's own protocol draws other node sets
    run(monkeypatch, capsys, '--seeds', '1', '--first-seed', '3', '--set', 'epochs=2',
        '--save-predictions', str(own))
    with pytest.raises(ValueError, match='different splits'):
        compare(load_runs([str(npz)]), load_runs([str(own)]))


def test_unknown_protocol_is_refused(monkeypatch, capsys):
    with pytest.raises(SystemExit):
        run(monkeypatch, capsys, '--protocol', 'random-5/5/90')
    assert "'random-5/5/90' is not one of" in capsys.readouterr().err


def test_cs_sets_the_probes_grid_and_is_saved(monkeypatch, capsys, tmp_path):
    npz = tmp_path / 'grid.npz'
    run(monkeypatch, capsys, '--seeds', '1', '--set', 'epochs=2', '--cs', '1', '1e-6',
        '--save-predictions', str(npz))
    saved = np.load(npz)
    assert list(saved['cs']) == [1e-6, 1.0]  # sorted, the grid the probe ran
    assert saved['predictions_by_c'].shape == (1, 2, 34)
    assert float(saved['chosen_c'][0]) in (1e-6, 1.0)
    for bad in (['0', '1'], ['1', '1']):
        with pytest.raises(SystemExit):
            run(monkeypatch, capsys, '--cs', *bad)
        assert '--cs takes distinct positive numbers' in capsys.readouterr().err


@pytest.mark.parametrize('form', [{}, {'view_smoothing': 'own', 'feature_mask_form': 'entries'}])
def test_many_views_with_two_views_is_the_trainers_own_step(form):
    """``views2`` takes the same views (the trainer's, its form included) and the same
    two-view P as the shipped step: the same losses, step for step."""
    import torch
    from genurl_pyg import NodeConfig
    from genurl_pyg.node.trainer import NodeEmbeddingTrainer
    from tests.node.test_trainer import karate
    cfg = NodeConfig(encoder='gcn', encoder_input_hops=1, epochs=3, hidden_channels=8,
                     out_channels=8, projector_channels=4, k=5, seed=2, **form)
    plain = NodeEmbeddingTrainer(karate(), cfg)
    many = NodeEmbeddingTrainer(karate(), cfg)
    node_variants._many_views(many, 2)
    for _ in range(3):
        assert many.step() == pytest.approx(plain.step(), rel=1e-5)
    three = NodeEmbeddingTrainer(karate(), cfg)
    node_variants._many_views(three, 3)
    before = [p.detach().clone() for p in three.model.parameters()]
    assert torch.isfinite(torch.tensor(three.step()))
    assert any(not torch.equal(a, b) for a, b in zip(before, three.model.parameters()))


def test_smooth_saves_each_smoothed_readout_of_the_same_training(monkeypatch, capsys,
                                                                 tmp_path):
    """--smooth 2: A_hat h and A_hat^2 h of the one training, probed with the same C grid
    and saved beside the base (paired by construction); checked against the probe run by
    hand on the smoothed base embedding. Test accuracy is printed only with --show-test."""
    from genurl_pyg.evaluation import linear_probe, split_for
    from genurl_pyg.node import NodeConfig, NodeEmbeddingTrainer
    from genurl_pyg.node.propagation import normalized_adjacency
    from torch_geometric.datasets import KarateClub
    npz = tmp_path / 'base.npz'
    out = run(monkeypatch, capsys, '--seeds', '1', '--set', 'epochs=3', '--smooth', '2',
              '--save-predictions', str(npz))
    assert ' test ' not in out and 'test' not in json.loads(out.strip().splitlines()[-1])
    base = np.load(npz)
    data = KarateClub()[0]
    trainer = NodeEmbeddingTrainer(data, NodeConfig.from_dict({'epochs': 3, 'seed': 0},
                                                              node_variants_base()))
    h = trainer.fit()
    adj = normalized_adjacency(data.edge_index, data.num_nodes)
    from genurl_pyg.datasets import get_spec
    masks = split_for(data, get_spec('KarateClub').protocol, 0)
    for k in (1, 2):
        h = adj @ h
        saved = np.load(tmp_path / f'base_smooth{k}.npz')
        assert str(saved['variant']) == str(base['variant']) + f' smooth {k}'
        np.testing.assert_array_equal(saved['masks'], base['masks'])
        want = linear_probe(h, data.y, *masks, Cs=list(base['cs']))
        np.testing.assert_array_equal(saved['predictions'][0], np.asarray(want.predictions))
    shown = run(monkeypatch, capsys, '--seeds', '1', '--set', 'epochs=3', '--show-test')
    assert ' test ' in shown and 'test' in json.loads(shown.strip().splitlines()[-1])
