"""What the sampled GenURL loss's two gradients cost, before and after they were written out.

A full-graph step of Cora's shipped config spends its loss on two pair sets: 20,000
positive pairs (:func:`genurl_pyg.nn.pair_distance.pair_sqdist`) and the shared-negatives
block, every row of the two stacked views against 185 shared columns
(:func:`genurl_pyg.nn.pair_distance.column_block_sqdist`). Two measurements, in this process
with --threads torch threads (pin it, e.g. `taskset -c 1`, on a shared machine):

  kernel   forward + backward of each piece alone on Cora's shapes, median of --repeats:
           block: "before" is the autograd expression shipped until session 34
           (|z_i|^2 + |z_c|^2 - 2 z_i.z_c from z.pow(2).sum(1), z[cols] and z @ zc.t()),
           "after" column_block_sqdist in float32, "bf16" the same with bfloat16 operands;
           positives: "before" the chunked gathers and scatters of the backward (still the
           accelerator's path), "after" the CPU's one CSR product;
  seed     whole Cora seeds of NodeEmbeddingTrainer.fit() with the shipped cora.yaml at
           block_precision float32 and bfloat16, --seeds each, interleaved so that a slow
           spell on a shared machine falls on both;
  checkout with --compare-with DIR (a checkout of an earlier commit, e.g. a `git worktree`):
           whole Cora seeds of each checkout's own shipped config, each seed in a fresh
           child process (PYTHONPATH set to the checkout), the two alternating seed by seed.

Before and after must agree to rounding in value and gradient (printed as relative
differences); bf16 is a change to the numbers, its differences printed beside.
Writes experiments/results/loss_gradient_speed.{json,md}.

Usage:
  taskset -c 1 python experiments/loss_gradient_speed.py --threads 1
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import (alternating_seconds, cora_variant_seconds,  # noqa: E402
                          median_seconds, versions, write_results)

from genurl_pyg.nn import pair_distance  # noqa: E402

#: Cora's two stacked views, width, shared columns (ceil(1e6 / 5416)) and positive pairs.
ROWS, WIDTH, COLUMNS, PAIRS = 2 * 2708, 512, 185, 20_000


def _autograd_block(z: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """The block as shipped before session 34 (the 'before' row)."""
    zc = z.index_select(0, cols)
    sq = z.pow(2).sum(1)
    return (sq.unsqueeze(1) + sq.index_select(0, cols).unsqueeze(0)
            - 2.0 * (z @ zc.t())).clamp_min(0.0)


def _timed(forms: Dict[str, Callable[[], torch.Tensor]], z: torch.Tensor, weight: torch.Tensor,
           repeats: int) -> Dict:
    row: Dict = {}
    grads = {}
    for name, form in forms.items():
        out = form()
        value = (out * weight).sum()
        grads[name] = (value.item(), torch.autograd.grad(value, z)[0])

        def step(form=form):
            z.grad = None
            (form() * weight).sum().backward()

        row[f'{name}_ms'] = 1e3 * median_seconds(step, repeats)
    ref_value, ref_grad = grads['before']
    for name, (value, grad) in grads.items():
        if name != 'before':
            row[f'{name}_value_rel_diff'] = abs(value - ref_value) / abs(ref_value)
            row[f'{name}_grad_rel_diff'] = float((grad - ref_grad).norm() / ref_grad.norm())
    return row


class _ChunkedPairs(torch.autograd.Function):
    """pair_sqdist with the chunked backward forced (the 'before' row on a CPU)."""

    @staticmethod
    def forward(ctx, z, i, j):
        ctx.save_for_backward(z, i, j)
        return pair_distance._PairSqdist.forward(ctx, z, i, j)

    @staticmethod
    def backward(ctx, grad):
        z, i, j = ctx.saved_tensors
        return pair_distance._chunked_gradient(z, i, j, 2 * grad), None, None


def kernel_rows(repeats: int) -> Dict[str, Dict]:
    gen = torch.Generator().manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(ROWS, WIDTH, generator=gen), dim=1) * 3
    z.requires_grad_()
    cols = torch.randint(0, ROWS, (COLUMNS,), generator=gen)
    block_weight = torch.rand(ROWS, COLUMNS, generator=gen)
    block = _timed({'before': lambda: _autograd_block(z, cols),
                    'after': lambda: pair_distance.column_block_sqdist(z, cols),
                    'bf16': lambda: pair_distance.column_block_sqdist(z, cols, 'bfloat16')},
                   z, block_weight, repeats)
    i = torch.randint(0, ROWS, (PAIRS,), generator=gen)
    j = torch.randint(0, ROWS, (PAIRS,), generator=gen)
    pair_weight = torch.rand(PAIRS, generator=gen)
    positives = _timed({'before': lambda: _ChunkedPairs.apply(z, i, j),
                        'after': lambda: pair_distance.pair_sqdist(z, i, j)},
                       z, pair_weight, repeats)
    for name, row in (('block', block), ('positives', positives)):
        print(f"{name}: " + ', '.join(f"{k[:-3]} {v:.1f} ms" for k, v in row.items()
                                      if k.endswith('_ms')), file=sys.stderr, flush=True)
    return {'block': block, 'positives': positives}


#: Cora seeds timed: the shipped config with the block's products in each precision.
SEED_VARIANTS = {'float32': {'block_precision': 'float32'},
                 'bfloat16': {'block_precision': 'bfloat16'}}


def seed_rows(seeds: int) -> Dict:
    return cora_variant_seconds(SEED_VARIANTS, seeds)


_ONE_SEED = """
import sys, time, torch
from genurl_pyg.datasets import load_dataset
from genurl_pyg.node import NodeEmbeddingTrainer, dataset_defaults
torch.set_num_threads(int(sys.argv[2]))
data, base = load_dataset('Cora'), dataset_defaults('Cora')
start = time.perf_counter()
NodeEmbeddingTrainer(data, base.__class__.from_dict({'seed': int(sys.argv[1])}, base=base)).fit()
print(time.perf_counter() - start)
"""


def checkout_rows(other: str, seeds: int, threads: int) -> Dict:
    """Whole seeds of ``other``'s checkout and of this one, alternating, one child each."""
    here = str(Path(__file__).resolve().parent.parent)
    checkouts = {'compared checkout': str(Path(other).resolve()), 'this checkout': here}

    def child(root: str) -> Callable[[int], float]:
        def run(seed: int) -> float:
            out = subprocess.run([sys.executable, '-c', _ONE_SEED, str(seed), str(threads)],
                                 env=dict(os.environ, PYTHONPATH=root), cwd=root,
                                 capture_output=True, text=True, check=True)
            return float(out.stdout.strip().splitlines()[-1])
        return run
    rows = alternating_seconds({name: child(root) for name, root in checkouts.items()}, seeds)
    return {name: {'root': checkouts[name], **row} for name, row in rows.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--repeats', type=int, default=20)
    ap.add_argument('--seeds', type=int, default=3, help='Cora seeds per variant (0: skip)')
    ap.add_argument('--conditions', default='', help='what else ran (written to the table)')
    ap.add_argument('--compare-with', default='', metavar='DIR',
                    help='a checkout of an earlier commit: its whole Cora seeds against this '
                         "checkout's, alternating, each in a child process")
    ap.add_argument('--out', default='loss_gradient_speed')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    kernels = kernel_rows(args.repeats)
    seeds = seed_rows(args.seeds) if args.seeds else {}
    compared = (checkout_rows(args.compare_with, args.seeds, args.threads)
                if args.compare_with and args.seeds else {})
    payload = {'benchmark': 'loss_gradient_speed', 'command': 'python ' + ' '.join(sys.argv),
               'threads': args.threads, 'conditions': args.conditions,
               'versions': versions(), 'kernel': kernels, 'cora_seed': seeds,
               'checkouts': compared}
    b, p = kernels['block'], kernels['positives']
    lines = ["# The sampled loss's gradients, before and after (`experiments/loss_gradient_speed.py`)",
             '', f"Command: `{payload['command']}`; {args.threads} torch thread(s); medians of "
             'forward + backward (kernel) and of whole seeds.', '',
             f'| piece (Cora shapes) | before (autograd / chunked) ms | after ms | bf16 ms | '
             'after: value, gradient rel. diff | bf16: value, gradient rel. diff |',
             '|---|---|---|---|---|---|',
             f"| block: {ROWS} rows x {COLUMNS} columns, width {WIDTH} | {b['before_ms']:.1f} | "
             f"{b['after_ms']:.1f} | {b['bf16_ms']:.1f} | {b['after_value_rel_diff']:.1e}, "
             f"{b['after_grad_rel_diff']:.1e} | {b['bf16_value_rel_diff']:.1e}, "
             f"{b['bf16_grad_rel_diff']:.1e} |",
             f"| positives: {PAIRS:,} pairs of {ROWS} rows, width {WIDTH} | {p['before_ms']:.1f} | "
             f"{p['after_ms']:.1f} | | {p['after_value_rel_diff']:.1e}, "
             f"{p['after_grad_rel_diff']:.1e} | |"]
    if seeds:
        lines += ['', '| Cora seed (shipped cora.yaml, fit) | seconds per seed | median s |',
                  '|---|---|---|']
        lines += [f"| block_precision {name} | {', '.join(f'{s:.2f}' for s in r['seconds'])} | "
                  f"{r['median_s']:.2f} |" for name, r in seeds.items()]
    if compared:
        lines += ['', '| Cora seed, each checkout\'s shipped config (child processes, '
                  'alternating) | seconds per seed | median s |', '|---|---|---|']
        lines += [f"| {name} (`{r['root']}`) | {', '.join(f'{s:.2f}' for s in r['seconds'])} | "
                  f"{r['median_s']:.2f} |" for name, r in compared.items()]
    if args.conditions:
        lines += ['', f'Conditions: {args.conditions}']
    write_results(args.out, payload, '\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
