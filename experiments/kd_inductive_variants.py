"""Inductive distillation variants scored on *held-out validation* nodes: half the
validation nodes are removed from teacher and student training, like the held-out test
nodes, and the score is the probe's accuracy on them (C chosen on the other half). The test
nodes are never read, so variants can be chosen here without touching test data.

Usage: python experiments/kd_inductive_variants.py Cora 0 "objective='genurl'" \
           "objective='mse',feature_mask=0.3"
(each variant: comma-separated DistillConfig overrides, YAML values)
"""
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_utils  # noqa: E402,F401  (sets the offline data mirror)
from kd_variants import parse_variant  # noqa: E402
torch.set_num_threads(1)
from genurl_pyg.datasets import load_dataset, get_spec
from genurl_pyg.evaluation import linear_probe, split_for
from genurl_pyg.distill.run import train_teacher
from genurl_pyg.distill.graph import (distill_node_embeddings, held_out_validation,
                                      observed_subgraph)
ds = sys.argv[1]; seed = int(sys.argv[2]); variants = sys.argv[3:]
data = load_dataset(ds)
tr, va, te = split_for(data, get_spec(ds).protocol, seed)
held, held_va, fit_va = held_out_validation(va, te, seed)
t0 = time.time(); T, Tfull, _, _ = train_teacher(data, ds, seed, held); print('teacher s', round(time.time()-t0,1))
def probe(h):  # C chosen on the observed val nodes; score = accuracy on the held-out val nodes
    r = linear_probe(h, data.y, tr, fit_va, held_va)
    return round(100 * r.test_accuracy, 2)
print('teacher held-val', probe(Tfull), flush=True)
sub = observed_subgraph(data, held)
for v in variants:
    kw = parse_variant(v)
    t0 = time.time(); d = distill_node_embeddings(sub, T, seed=seed, **kw)
    print(v, 'held-val', probe(d.embed(data.x)), round(time.time()-t0,1), flush=True)
