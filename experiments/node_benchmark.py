"""Node-classification benchmark: GenURL vs PyG's DeepGraphInfomax and two cheap baselines.

Every method runs in its own fresh subprocess per data set (so peak RSS is per method), in
one invocation on one machine. Evaluation is the same for all methods: a logistic-regression
probe on standardised frozen embeddings, C chosen on the validation nodes
(genurl_pyg.evaluation.linear_probe). Protocols: Planetoid public split (Cora, CiteSeer);
random 10/10/80 splits, one per seed (others).

Methods:
  raw      the node features themselves
  sgc      SGC-style propagated features  D^-1/2 (A+I) D^-1/2 applied twice to X
  dgi      PyG's DeepGraphInfomax example: GCNConv(F, 512) + PReLU encoder, row-shuffle
           corruption, sigmoid-mean summary, Adam lr 1e-3, 300 epochs
  genurl   genurl_pyg.fit_node_embeddings with the data set's YAML config

Sparse bag-of-words features (density < 10 %) are passed as a CSR tensor to both GenURL and
DGI: the same mathematics as PyG's dense example, an O(nnz) first product instead of O(N*F).
Both also get the graph as a CSR adjacency (PyG's GCNConv accepts a torch.sparse adj_t and
normalises it the same way): one sparse-dense product per layer instead of an [E, 512]
message tensor, which made DGI on Amazon Computers about 8x faster per epoch.

--threads sets torch's intra-op threads in every child (record it with the results: pin the
whole run to as many cores, e.g. `taskset -c 0`, when the machine is shared).

Usage:
  python experiments/node_benchmark.py                       # all data sets, 10 seeds
  python experiments/node_benchmark.py --datasets Cora --seeds 3 --dgi-seeds 1
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import peak_rss_mb, run_child, versions, write_results  # noqa: E402

DATASETS = ['Cora', 'CiteSeer', 'DBLP', 'Computers', 'Photo', 'CS']
METHODS = ['raw', 'sgc', 'dgi', 'genurl']
TARGETS = {'Cora': 0.845, 'CiteSeer': 0.743, 'Computers': 0.910, 'Photo': 0.951, 'CS': 0.936}


def _maybe_csr(x):
    density = float((x != 0).sum()) / x.numel()
    return x.to_sparse_csr() if density < 0.1 else x


def _dgi_embed(data, seed: int, epochs: int):
    import torch
    from torch_geometric.nn import DeepGraphInfomax, GCNConv

    class Encoder(torch.nn.Module):  # PyG examples/infomax_transductive.py
        def __init__(self, in_channels, hidden_channels):
            super().__init__()
            self.conv = GCNConv(in_channels, hidden_channels)
            self.prelu = torch.nn.PReLU(hidden_channels)

        def forward(self, x, edge_index):
            return self.prelu(self.conv(x, edge_index))

    x = _maybe_csr(data.x)
    sparse = x.layout == torch.sparse_csr
    adj_t = _csr_adjacency(data)
    x_coo = x.to_sparse_coo() if sparse else None

    def corruption(x_in, edge_index):
        perm = torch.randperm(data.num_nodes)
        if sparse:
            return x_coo.index_select(0, perm).to_sparse_csr(), edge_index
        return x_in[perm], edge_index

    torch.manual_seed(seed)
    model = DeepGraphInfomax(hidden_channels=512, encoder=Encoder(data.num_features, 512),
                             summary=lambda z, *a, **k: z.mean(dim=0).sigmoid(),
                             corruption=corruption)
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        pos_z, neg_z, summary = model(x, adj_t)
        loss = model.loss(pos_z, neg_z, summary)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return model(x, adj_t)[0]


def _csr_adjacency(data):
    import warnings
    from torch_geometric.utils import to_torch_csr_tensor
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Sparse invariant checks')
        return to_torch_csr_tensor(data.edge_index.flip(0),
                                   size=(data.num_nodes, data.num_nodes))


def _sgc_features(data, hops: int = 2):
    import torch
    from torch_geometric.utils import add_self_loops, degree
    n = data.num_nodes
    ei, _ = add_self_loops(data.edge_index, num_nodes=n)
    deg = degree(ei[0], n)
    w = deg[ei[0]].rsqrt() * deg[ei[1]].rsqrt()
    adj = torch.sparse_coo_tensor(ei.flip(0), w, (n, n)).coalesce()
    x = data.x
    for _ in range(hops):
        x = torch.sparse.mm(adj, x)
    return x


def child(dataset: str, method: str, seeds: int, budget_s: float, dgi_epochs: int,
          threads: int) -> None:
    import torch
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.evaluation import linear_probe, split_for
    from genurl_pyg.node import NodeEmbeddingTrainer, dataset_defaults
    torch.set_num_threads(threads)
    spec = get_spec(dataset)
    data = load_dataset(dataset)
    accs, secs = [], []
    note = ''
    start_all = time.perf_counter()
    fixed = None
    if method in ('raw', 'sgc'):
        t = time.perf_counter()
        fixed = data.x if method == 'raw' else _sgc_features(data)
        fixed_s = time.perf_counter() - t
    cfg = dataset_defaults(dataset)
    for i in range(seeds):
        if i > 0 and time.perf_counter() - start_all > budget_s:
            note = f'stopped after {i} of {seeds} seeds: time budget {budget_s:.0f} s'
            break
        t = time.perf_counter()
        if fixed is not None:
            h, seconds = fixed, fixed_s
        elif method == 'dgi':
            h = _dgi_embed(data, i, dgi_epochs)
            seconds = time.perf_counter() - t
        else:
            trainer = NodeEmbeddingTrainer(data, cfg.__class__.from_dict({'seed': i}, base=cfg))
            h = trainer.fit()
            seconds = time.perf_counter() - t
        res = linear_probe(h, data.y, *split_for(data, spec.protocol, i))
        accs.append(res.test_accuracy)
        secs.append(seconds)
        print(f'[{dataset}/{method}] seed {i}: {res.test_accuracy:.4f} ({seconds:.1f} s)',
              file=sys.stderr, flush=True)
    print(json.dumps({'dataset': dataset, 'method': method, 'protocol': spec.protocol,
                      'per_seed': accs, 'seconds_per_seed': secs, 'seeds_run': len(accs),
                      'note': note, 'peak_rss_mb': peak_rss_mb(),
                      'config': cfg.to_dict() if method == 'genurl' else None}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--datasets', nargs='+', default=DATASETS)
    ap.add_argument('--methods', nargs='+', default=METHODS, choices=METHODS)
    ap.add_argument('--seeds', type=int, default=10)
    ap.add_argument('--dgi-seeds', type=int, default=10)
    ap.add_argument('--dgi-epochs', type=int, default=300)
    ap.add_argument('--budget', type=float, default=500,
                    help='seconds per method and data set before no new seed is started')
    ap.add_argument('--dgi-budget', type=float, default=240,
                    help='the same for DGI, which is several times slower per seed')
    ap.add_argument('--threads', type=int, default=2, help='torch threads per child')
    ap.add_argument('--out', default='node_benchmark', help='result file stem')
    ap.add_argument('--append', action='store_true',
                    help='keep the rows already in the result file; rerun rows are replaced')
    ap.add_argument('--child', nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        ds, method, seeds, budget, dgi_epochs, threads = args.child
        child(ds, method, int(seeds), float(budget), int(dgi_epochs), int(threads))
        return
    import numpy as np
    from _bench_utils import RESULTS
    rows, commands, old = [], [], {}
    previous = RESULTS / f'{args.out}.json'
    if args.append and previous.exists():
        old = json.loads(previous.read_text())
        todo = {(d, m) for d in args.datasets for m in args.methods}
        rows = [r for r in old['results'] if (r['dataset'], r['method']) not in todo]
        commands = old.get('commands', [old.get('command')])
    commands.append('python ' + ' '.join(sys.argv))
    threads = dict(old.get('threads', {})) if rows else {}
    threads.update({d: args.threads for d in args.datasets})
    for ds in args.datasets:
        for method in args.methods:
            seeds = args.dgi_seeds if method == 'dgi' else args.seeds
            print(f'[node_benchmark] {ds} / {method} ...', flush=True)
            budget = args.dgi_budget if method == 'dgi' else args.budget
            res = run_child([__file__, '--child', ds, method, str(seeds), str(budget),
                             str(args.dgi_epochs), str(args.threads)], timeout=4 * 3600)
            res.setdefault('dataset', ds)
            res.setdefault('method', method)
            if 'per_seed' in res and res['per_seed']:
                res['mean'] = float(np.mean(res['per_seed']))
                res['std'] = float(np.std(res['per_seed']))
                res['mean_seconds'] = float(np.mean(res['seconds_per_seed']))
            print(json.dumps({k: v for k, v in res.items() if k != 'config'}), flush=True)
            rows.append(res)
            payload = {'benchmark': 'node_benchmark', 'commands': commands,
                       'versions': versions(), 'dgi_epochs': args.dgi_epochs, 'threads': threads,
                       'results': rows}
            write_results(args.out, payload, _markdown(payload))


def _markdown(payload) -> str:
    by = {}
    for r in payload['results']:
        by.setdefault(r['dataset'], {})[r['method']] = r
    lines = ['# Node classification: GenURL vs DGI and baselines', '',
             'Commands (in order; later rows replace earlier ones): '
             + '; '.join(f'`{c}`' for c in payload['commands']) + '  ',
             'Versions: ' + ', '.join(f'{k} {v}' for k, v in payload['versions'].items()) + '  ',
             'Probe: logistic regression on standardised frozen embeddings, C chosen on the '
             'validation nodes. Protocol per data set in the table. Accuracy in %, mean ± std '
             'over seeds (seed = training seed and, for random splits, split seed). DGI: PyG '
             f"example encoder and corruption, {payload['dgi_epochs']} epochs. Times are "
             'seconds per seed (training only; raw/SGC: feature computation) on this 2-core '
             'CPU with the torch threads per process listed here: '
             + (', '.join(f'{d} {t}' for d, t in payload.get('threads', {}).items()) or '2')
             + '; peak RSS of the method\'s own process.', '',
             '| data set | protocol | method | accuracy | seeds | s/seed | peak RSS MB | target | note |',
             '|---|---|---|---|---|---|---|---|---|']
    for ds in [d for d in DATASETS if d in by] + [d for d in by if d not in DATASETS]:
        methods = by[ds]
        for m in METHODS:
            r = methods.get(m)
            if r is None:
                continue
            if 'mean' not in r:
                lines.append(f"| {ds} | | {m} | failed | | | | | {r.get('error', '')} |")
                continue
            target = ''
            if m == 'genurl' and ds in TARGETS:
                hit = r['mean'] >= TARGETS[ds]
                target = f"{100 * TARGETS[ds]:.1f} ({'met' if hit else 'missed'})"
            lines.append(f"| {ds} | {r['protocol']} | {m} | {100 * r['mean']:.2f} ± "
                         f"{100 * r['std']:.2f} | {r['seeds_run']} | {r['mean_seconds']:.1f} | "
                         f"{r['peak_rss_mb']:.0f} | {target} | {r.get('note', '')} |")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
