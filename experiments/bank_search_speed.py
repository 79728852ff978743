"""What the teacher bank's lookup costs, before and after its sparse search (issue 15).

:class:`genurl_pyg.distill.bank.TeacherBank` answers a lookup with a brute-force cosine
search over the training rows and a weighted mean of the teacher rows it finds. Until
session 36 both were dense: the search one ``[C, N]`` product per chunk over all ``D``
columns, the mean a gather of ``[M, k, d_t]`` teacher rows. Now bag-of-words features are
searched as a CSR matrix and the mean is one sparse product. This script times, in this
process with ``--threads`` torch threads (pin it, e.g. ``taskset -c 1``), a lookup of every
node of each graph in a bank of a seeded half of its nodes (random teacher rows of width
512, ``k`` 20):

  before  the session-35 lookup, reproduced here (dense search, gather mean);
  after   ``TeacherBank.__call__`` as shipped;

median of ``--repeats`` after two warm-ups, and how many codes differ between the two
(with binary features the products are exact integers either way, so none should).
Writes experiments/results/bank_search_speed.{json,md}.

Usage:
  taskset -c 1 python experiments/bank_search_speed.py --threads 1
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import median_seconds, versions, write_results  # noqa: E402

from genurl_pyg.distill.bank import (COINCIDENT, _CHUNK_BYTES, TeacherBank,  # noqa: E402
                                     _inverse_norms)


def lookup_before(bank: TeacherBank, x: torch.Tensor) -> torch.Tensor:
    """The session-35 lookup: dense search, then the mean over a gathered [C, k, d_t]."""
    n = bank.keys.size(0)
    out = []
    for q in x.split(max(1, _CHUNK_BYTES // (4 * n))):
        sim = (q @ bank.keys.T).mul_(_inverse_norms(q).unsqueeze(1)).mul_(bank.inv_norms)
        sim[sim > COINCIDENT] = float('-inf')
        top, index = sim.topk(bank.k, dim=1)
        w = top.clamp_min(0.0)
        total = w.sum(1, keepdim=True)
        code = torch.einsum('mk,mkd->md', w, bank.values[index])
        out.append(torch.where(total > 0, code / total.clamp_min(1e-12), torch.zeros_like(code)))
    return torch.cat(out)


def measure(name: str, k: int, repeats: int) -> Dict:
    from genurl_pyg.datasets import load_dataset
    x = load_dataset(name).x.float()
    g = torch.Generator().manual_seed(0)
    rows = torch.randperm(x.size(0), generator=g)[: x.size(0) // 2]
    bank = TeacherBank(x[rows], torch.randn(rows.numel(), 512, generator=g), k=k)
    before, after = lookup_before(bank, x), bank(x)
    gap = (before - after).abs()
    row = {'dataset': name, 'nodes': x.size(0), 'bank_rows': rows.numel(),
           'columns': x.size(1), 'density': (x != 0).float().mean().item(),
           'sparse_search': bank.sparse_keys is not None,
           'before_s': median_seconds(lambda: lookup_before(bank, x), repeats),
           'after_s': median_seconds(lambda: bank(x), repeats),
           'codes_differ': int((gap.amax(1) > 1e-5).sum()), 'max_abs_diff': gap.max().item()}
    row['speedup'] = row['before_s'] / row['after_s']
    print(f"{name}: before {row['before_s']:.3f} s, after {row['after_s']:.3f} s "
          f"({row['speedup']:.1f}x), {row['codes_differ']} codes differ", file=sys.stderr)
    return row


def markdown(rows: List[Dict], args: argparse.Namespace, ver: Dict[str, str]) -> str:
    lines = ['# Teacher bank lookup: dense search and gather against sparse search and product',
             '', f'Command: `python experiments/bank_search_speed.py --threads {args.threads} '
             f'--repeats {args.repeats} --k {args.k}`', '',
             'Versions: ' + ', '.join(f'{k} {v}' for k, v in ver.items()), '',
             f'A lookup of every node in a bank of a seeded half of the nodes (teacher rows of '
             f'width 512, k {args.k}); median seconds of {args.repeats} after two warm-ups. '
             '"before": the session-35 lookup (dense search, gathered mean); "after": the '
             'shipped `TeacherBank` (CSR search where at most 5 % of the entries are non-zero, '
             'the mean as one sparse product).', '',
             '| graph | nodes | bank rows | columns | non-zero | search | before s | after s '
             '| speed-up | codes that differ |', '|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['nodes']} | {r['bank_rows']} | {r['columns']} | "
                     f"{100 * r['density']:.1f} % | {'sparse' if r['sparse_search'] else 'dense'}"
                     f" | {r['before_s']:.3f} | {r['after_s']:.3f} | {r['speedup']:.1f}x | "
                     f"{r['codes_differ']} (max {r['max_abs_diff']:.1e}) |")
    if args.notes:
        lines += ['', Path(args.notes).read_text().strip()]
    return '\n'.join(lines) + '\n'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--datasets', nargs='+', default=['Cora', 'CiteSeer', 'Photo'])
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--k', type=int, default=20)
    ap.add_argument('--notes', default=None, help='a Markdown file appended (run conditions)')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ver = versions()
    rows = [measure(name, args.k, args.repeats) for name in args.datasets]
    write_results('bank_search_speed', {'command': 'python ' + ' '.join(sys.argv),
                                        'versions': ver, 'rows': rows},
                  markdown(rows, args, ver))


if __name__ == '__main__':
    main()
