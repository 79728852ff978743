"""OGB data sets read from tiny fixtures written in OGB's own on-disk layout."""
import gzip

import numpy as np
import pytest
import torch

pytest.importorskip('ogb')

from genurl_pyg.datasets import load_dataset  # noqa: E402
from genurl_pyg.datasets.ogb_files import load_link_split, rebuild_link_train_split  # noqa
from genurl_pyg.evaluation import ogb_node_metric  # noqa: E402
from genurl_pyg.node.run import score_embeddings  # noqa: E402


def _csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, 'wt') as f:
        for r in np.atleast_2d(rows) if np.ndim(rows) > 1 else np.asarray(rows)[:, None]:
            f.write(','.join(str(v) for v in r) + '\n')


def write_ogbn_arxiv(root, n=60, classes=3, seed=0):
    """ogbn-arxiv's layout (raw csv.gz, time split, release note) with a planted graph."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    src = rng.integers(0, n, 400)
    dst = np.array([rng.choice(np.flatnonzero(y == y[s])) for s in src])
    x = np.eye(classes)[y] * 2 + rng.normal(size=(n, classes))
    d = root / 'ogb' / 'ogbn_arxiv'
    (d / 'raw').mkdir(parents=True)
    (d / 'RELEASE_v1.txt').write_text('fixture\n')
    _csv(d / 'raw' / 'edge.csv.gz', np.stack([src, dst], 1))
    _csv(d / 'raw' / 'node-feat.csv.gz', x.round(4))
    _csv(d / 'raw' / 'node-label.csv.gz', y)
    _csv(d / 'raw' / 'node_year.csv.gz', 2000 + np.arange(n) % 20)
    _csv(d / 'raw' / 'num-node-list.csv.gz', [n])
    _csv(d / 'raw' / 'num-edge-list.csv.gz', [len(src)])
    perm = rng.permutation(n)
    for name, idx in (('train', perm[:30]), ('valid', perm[30:45]), ('test', perm[45:])):
        _csv(d / 'split' / 'time' / f'{name}.csv.gz', np.sort(idx))
    return y, perm


def write_ogbl_ddi(root, n=40, seed=0, with_train=False):
    """ogbl-ddi's layout; like the staged mirror, split/target/train.pt is left out."""
    rng = np.random.default_rng(seed)
    pairs = {tuple(sorted(p)) for p in rng.integers(0, n, (300, 2)) if p[0] != p[1]}
    edges = np.array(sorted(pairs))
    d = root / 'ogb' / 'ogbl_ddi'
    (d / 'raw').mkdir(parents=True)
    (d / 'RELEASE_v1.txt').write_text('fixture\n')
    _csv(d / 'raw' / 'edge.csv.gz', edges)
    _csv(d / 'raw' / 'num-node-list.csv.gz', [n])
    _csv(d / 'raw' / 'num-edge-list.csv.gz', [len(edges)])
    split = d / 'split' / 'target'
    split.mkdir(parents=True)
    neg = rng.integers(0, n, (50, 2))
    for name in ('valid', 'test'):  # OGB stores numpy arrays in these pickles
        torch.save({'edge': edges[:20], 'edge_neg': neg}, split / f'{name}.pt')
    if with_train:
        torch.save({'edge': edges}, split / 'train.pt')
    return edges


def test_ogbn_fixture_loads_with_official_split_and_evaluator(tmp_path):
    y, perm = write_ogbn_arxiv(tmp_path)
    data = load_dataset('ogbn-arxiv', root=str(tmp_path))
    assert data.num_nodes == 60 and data.x.shape == (60, 3)
    assert data.y.tolist() == y.tolist()
    assert sorted(data.train_mask.nonzero().view(-1).tolist()) == sorted(perm[:30].tolist())
    assert int(data.val_mask.sum()) == 15 and int(data.test_mask.sum()) == 15
    h = torch.nn.functional.one_hot(data.y, 3).float() + 0.01 * torch.randn(60, 3)
    sc = score_embeddings(h, data, 'ogbn-arxiv', 'ogb-official', 0)
    assert sc['metric'] == 'accuracy' and sc['test'] == 1.0
    score = ogb_node_metric('ogbn-arxiv')  # the official evaluator is plain accuracy here
    yt, yp = np.array([0, 1, 2, 1]), np.array([0, 2, 2, 1])
    assert score(yt, yp) == pytest.approx(0.75)


def test_ogbl_fixture_rebuilds_missing_train_split(tmp_path):
    edges = write_ogbl_ddi(tmp_path)
    with pytest.warns(UserWarning, match='rebuilt the missing'):
        data = load_dataset('ogbl-ddi', root=str(tmp_path))
    assert data.num_nodes == 40 and data.x.shape == (40, 40)  # one-hot ids
    got = {tuple(sorted(e)) for e in data.link_train_pos.tolist()}
    assert got == {tuple(e) for e in edges.tolist()} and len(data.link_train_pos) == len(edges)
    assert data.link_val_neg.shape == (50, 2) and data.link_test_pos.shape == (20, 2)
    train = torch.load(tmp_path / 'ogb' / 'ogbl_ddi' / 'split' / 'target' / 'train.pt')
    assert train['edge'].shape == (len(edges), 2)


def test_existing_train_split_is_kept(tmp_path):
    split = tmp_path / 'split'
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    assert rebuild_link_train_split(split, ei)
    assert torch.load(split / 'train.pt')['edge'].tolist() == [[0, 1], [1, 2]]
    assert not rebuild_link_train_split(split, torch.tensor([[5], [6]]))  # no overwrite
    assert torch.load(split / 'train.pt')['edge'].tolist() == [[0, 1], [1, 2]]


def test_missing_link_split_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='train.pt'):
        load_link_split(tmp_path)
