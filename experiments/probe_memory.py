"""Peak memory and seconds of the project's LR probe (``genurl_pyg.evaluation.linear_probe``)
on a data set's raw features: the before/after measurement of a change to the probe.

Usage::

    python experiments/probe_memory.py --dataset Physics --seed 0

Prints the process's peak RSS before and after the probe (the probe's own peak is the
second number where it exceeds the first), the chosen C and the validation and test
scores, and the probe's seconds; one thread. Run it once per checkout (``git worktree``)
with the data set already processed, so that the first number is the same in both.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import peak_rss_mb  # noqa: E402  (also sets the offline data mirror)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--dataset', default='Physics')
    ap.add_argument('--seed', type=int, default=0, help="the protocol's split seed")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.evaluation import linear_probe, split_for
    data = load_dataset(args.dataset)
    spec = get_spec(args.dataset)
    tr, va, te = split_for(data, spec.protocol, args.seed)
    before = peak_rss_mb()
    start = time.perf_counter()
    res = linear_probe(data.x, data.y, tr, va, te, metric=spec.metric)
    out = {'dataset': args.dataset, 'seed': args.seed, 'peak_before_mb': before,
           'peak_after_mb': peak_rss_mb(), 'C': res.C, 'val': res.val_accuracy,
           'test': res.test_accuracy, 'seconds': time.perf_counter() - start}
    print(f"{args.dataset} seed {args.seed}: peak RSS {out['peak_before_mb']:.0f} MB before "
          f"the probe, {out['peak_after_mb']:.0f} MB after; C {res.C} val "
          f"{res.val_accuracy:.4f} test {res.test_accuracy:.4f}; {out['seconds']:.1f} s")
    return out


if __name__ == '__main__':
    main()
