"""What CCA-SSG's correlation term costs GenURL's node trainer, before and after a change.

`repulsion: student_t+decorrelation` (Cora's shipped config) adds
genurl_pyg.nn.correlation_loss to every full-graph step. Two measurements, in this process
with --threads torch threads (pin it, e.g. `taskset -c 0`, on a shared machine):

  kernel   forward + backward of the term alone on a [2 N, D] stack of two views (Cora's
           2708 x 512 and a wider graph's), median of --repeats: "before" is the probed
           form as it was until this script's commit (column moments by torch.var_mean,
           reproduced below), "after" the shipped one, "exact" the O(N D^2) term;
  seed     whole Cora seeds of NodeEmbeddingTrainer.fit() with the shipped cora.yaml and
           with the term switched off (repulsion student_t), --seeds each, interleaved so
           that a slow spell on a shared machine falls on both.

Writes experiments/results/correlation_speed.{json,md}.

Usage:
  taskset -c 0 python experiments/correlation_speed.py --threads 1
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import (cora_variant_seconds, median_seconds, versions,  # noqa: E402
                          write_results)

from genurl_pyg.nn.decorrelation import correlation_loss  # noqa: E402

KERNEL_SHAPES = [('Cora (2 x 2708, 512)', 2708, 512), ('20k nodes (2 x 20000, 512)', 20_000, 512)]


def _previous_probed(z: torch.Tensor, num_views: int, probes: int,
                     generator: Optional[torch.Generator], eps: float = 1e-8) -> torch.Tensor:
    """The probed term as shipped before this script's commit (the 'before' row)."""
    n, dim = z.size(0) // num_views, z.size(1)
    total = z.new_zeros(())
    for view in z.view(num_views, n, dim):
        var, mean = torch.var_mean(view, dim=0, correction=0)
        inv_std = (var + eps).rsqrt()
        r = torch.randn(dim, probes, generator=generator, dtype=z.dtype)
        s = r * inv_std[:, None]
        u = (view @ s - mean @ s) / n ** 0.5
        back = (view.t() @ u - mean[:, None] * u.sum(0)) * inv_std[:, None] / n ** 0.5
        total = total + (back - r).pow(2).sum() / (probes * dim)
    return total / num_views


def kernel_rows(repeats: int, probes: int) -> List[Dict]:
    rows = []
    for label, n, d in KERNEL_SHAPES:
        z = (torch.randn(2 * n, d, generator=torch.Generator().manual_seed(0)) * 3 + 5)
        z.requires_grad_()
        forms = {'before': lambda g: _previous_probed(z, 2, probes, g),
                 'after': lambda g: correlation_loss(z, 2, probes=probes, generator=g),
                 'exact': lambda g: correlation_loss(z, 2)}
        row: Dict = {'shape': label, 'probes': probes}
        values = {}
        for name, form in forms.items():
            value = form(torch.Generator().manual_seed(1))
            grad, = torch.autograd.grad(value, z)
            values[name] = (value.item(), grad)
            gen = torch.Generator().manual_seed(2)

            def step(form=form, gen=gen):
                z.grad = None
                form(gen).backward()

            row[f'{name}_ms'] = 1e3 * median_seconds(step, repeats)
        # Same probes, so before and after must agree to rounding, in value and gradient.
        (vb, gb), (va, ga) = values['before'], values['after']
        row['value_rel_diff'] = abs(vb - va) / abs(vb)
        row['grad_rel_diff'] = float((gb - ga).norm() / gb.norm())
        rows.append(row)
        print(f"{label}: before {row['before_ms']:.1f} ms, after {row['after_ms']:.1f} ms, "
              f"exact {row['exact_ms']:.1f} ms", file=sys.stderr, flush=True)
    return rows


#: Cora seeds timed: the shipped config and the same without the term (its settings back to
#: their defaults too: the config refuses them without the term).
SEED_VARIANTS = {'shipped': {}, 'no term': {'repulsion': 'student_t', 'decorrelation_probes': 0,
                                            'decorrelation_weight': 1.0}}


def seed_rows(seeds: int) -> Dict:
    return cora_variant_seconds(SEED_VARIANTS, seeds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--repeats', type=int, default=20)
    ap.add_argument('--probes', type=int, default=16)
    ap.add_argument('--seeds', type=int, default=3, help='Cora seeds per variant (0: skip)')
    ap.add_argument('--out', default='correlation_speed')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    kernels = kernel_rows(args.repeats, args.probes)
    seeds = seed_rows(args.seeds) if args.seeds else {}
    payload = {'benchmark': 'correlation_speed', 'command': 'python ' + ' '.join(sys.argv),
               'threads': args.threads, 'versions': versions(), 'kernel': kernels,
               'cora_seed': seeds}
    lines = ['# The correlation term\'s cost (`experiments/correlation_speed.py`)', '',
             f"Command: `{payload['command']}`; {args.threads} torch thread(s); "
             'medians of forward + backward (kernel) and of whole seeds.', '',
             '| views x rows, width | probes | before (autograd) ms | after ms | exact ms | '
             'value rel. diff | grad rel. diff |', '|---|---|---|---|---|---|---|']
    for r in kernels:
        lines.append(f"| {r['shape']} | {r['probes']} | {r['before_ms']:.1f} | "
                     f"{r['after_ms']:.1f} | {r['exact_ms']:.1f} | {r['value_rel_diff']:.1e} | "
                     f"{r['grad_rel_diff']:.1e} |")
    if seeds:
        lines += ['', '| Cora seed (cora.yaml) | median s | seconds |', '|---|---|---|']
        for name, r in seeds.items():
            lines.append(f"| {name} | {r['median_s']:.2f} | "
                         f"{', '.join(f'{s:.2f}' for s in r['seconds'])} |")
    write_results(args.out, payload, '\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
