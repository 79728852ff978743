"""The suite's frozen-embedding methods: the ``untrained`` baseline is GenURL's encoder as
set up for that seed (the same weights its trained row starts from), before any step."""
import torch

from genurl_pyg.bench.tasks.graph_methods import embed_nodes
from genurl_pyg.datasets import load_dataset
from genurl_pyg.node import NodeConfig, NodeEmbeddingTrainer
from genurl_pyg.node.config import dataset_defaults


def test_untrained_is_the_trainers_initial_encoder_and_training_moves_it():
    data = load_dataset('KarateClub')
    params = {'epochs': 3}
    h0, _, cfg = embed_nodes('untrained', data, 'KarateClub', 4, params, float('inf'))
    base = NodeConfig.from_dict({**params, 'seed': 4}, base=dataset_defaults('KarateClub'))
    torch.testing.assert_close(h0, NodeEmbeddingTrainer(data, base).embed())
    assert cfg['seed'] == 4 and cfg['epochs'] == 3
    h1, _, _ = embed_nodes('genurl', data, 'KarateClub', 4, params, float('inf'))
    assert h1.shape == h0.shape and not torch.allclose(h1, h0, atol=1e-4)
    other, _, _ = embed_nodes('untrained', data, 'KarateClub', 5, params, float('inf'))
    assert not torch.allclose(other, h0)  # another seed, other initial weights


def test_the_full_suite_reads_untrained_beside_the_peers_without_counting_it_as_one():
    from genurl_pyg.bench.peers import PEERS
    from genurl_pyg.bench.suites import suite_cells
    node = suite_cells('full', ['node'])
    assert {c.dataset for c in node if c.method == 'untrained'} == {
        c.dataset for c in node if c.method == 'genurl'}
    assert 'untrained' not in PEERS


def test_genurl_embedding_reads_any_config_the_benchmark_is_given():
    """``node_benchmark.py --genurl-config`` passes its own config, not a data set's: the
    untrained embedding is that config's seed's initial encoder, trained it moves."""
    from genurl_pyg.bench.tasks.graph_methods import genurl_embedding
    data = load_dataset('KarateClub')
    cfg = NodeConfig(hidden_channels=8, out_channels=8, k=3, epochs=3, lr=0.05)
    h0, used = genurl_embedding(data, cfg, 2, trained=False)
    assert h0.shape == (34, 8) and used.seed == 2 and used.lr == 0.05
    assert torch.equal(h0, genurl_embedding(data, cfg, 2, trained=False)[0])
    assert not torch.allclose(h0, genurl_embedding(data, cfg, 3, trained=False)[0])
    trainer = NodeEmbeddingTrainer(data, NodeConfig.from_dict({'seed': 2}, base=cfg))
    assert torch.equal(h0, trainer.embed())  # the trained embedding's starting point
    assert not torch.allclose(h0, genurl_embedding(data, cfg, 2)[0])  # training moves it
