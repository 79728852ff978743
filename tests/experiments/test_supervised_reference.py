"""experiments/supervised_reference.py on KarateClub: the width and epoch are chosen on
validation, the report renders, and a GCN on the labels beats chance by far."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import supervised_reference as sr  # noqa: E402


def test_reference_rows_choose_on_validation():
    r = sr.run_dataset('KarateClub', 2, 30)
    assert r['protocol'] == 'random-50/25/25' and len(r['seeds']) == 2
    for s in r['seeds']:
        best = max(s['all_widths'].values(), key=lambda v: v[0])
        assert [s['val'], s['test'], s['epoch']] == list(best)
        assert 1 <= s['epoch'] <= 30
    assert r['test_mean'] > 0.5  # 4 classes: chance is about 0.25
    md = sr._markdown({'commands': ['x'], 'rows': {'KarateClub': r}})
    assert '| KarateClub | random-50/25/25 | 2 |' in md


def test_the_gcn_is_pyg_gcnconv_in_its_forward():
    """The hand-written sparse forward computes what two GCNConv layers compute."""
    import torch
    from torch_geometric.datasets import KarateClub
    from torch_geometric.nn import GCNConv
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    data = KarateClub()[0]
    n = data.num_nodes
    conv = GCNConv(data.num_features, 8)
    ei, w = gcn_norm(data.edge_index, None, n, add_self_loops=True)
    adj = torch.sparse_coo_tensor(ei.flip(0), w, (n, n)).coalesce()
    x = data.x.to_sparse_coo()
    ours = torch.sparse.mm(adj, torch.sparse.mm(x, conv.lin.weight.t())) + conv.bias
    assert torch.allclose(ours, conv(data.x, data.edge_index), atol=1e-5)
