"""SSL benchmark (issue 14): GenURL against SimCLR, BYOL and Barlow Twins on one budget.

Every method trains the same backbone with the same views, batch size, epochs, optimiser
and schedule (``genurl_pyg.vision.VisualTrainer`` with ``SSLConfig.objective``; the peers'
losses and heads are lightly's, ``genurl_pyg.vision.peers``), then the frozen backbone is
scored by the weighted kNN monitor (k 200, temperature 0.1) and the linear probe
(logistic regression, C on a stratified 10 % of the training images), test set once.

Presets (``--preset``):

* ``cpu-fmnist``: Fashion-MNIST, the small CNN, batch 256;
* ``cpu-cifar``: CIFAR-10 from the JPEG copy (``cifar10-jpeg``: never compare with published
  CIFAR-10 numbers), the small CNN, batch 256;
* ``gpu-cifar``: CIFAR-10 (lossless, torchvision download), ResNet-18 with the CIFAR stem,
  200 epochs, batch 512 (lightly's published kNN table for that setting: SimCLR 0.848,
  BYOL 0.868, Barlow Twins 0.819).

Each (preset, method, seed) row is appended to ``--out`` as soon as it finishes (``--resume``
skips finished rows; ``--save-backbones DIR`` also keeps each row's trained backbone as a
``genurl-pyg ssl`` run folder, a teacher for ``kd_image_benchmark.py --teacher``);
``--report`` writes ``experiments/results/ssl_benchmark.{json,md}`` (``--notes MD``: run
conditions appended to the table, kept when re-reporting;
``--report-stem NAME``: ``NAME.{json,md}`` instead, a table of its own).
Targets: GenURL's kNN and linear accuracy >= the best peer's, and its seconds per epoch
<= 1.2x SimCLR's, on every CPU preset.

Example::

    python experiments/ssl_benchmark.py --preset cpu-fmnist --epochs 30 --threads 2 \\
        --out results/ssl_fmnist.json
    python experiments/ssl_benchmark.py --report results/ssl_fmnist.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import RESULTS, check_stem, versions, write_results  # noqa: E402

METHODS = ('genurl', 'simclr', 'byol', 'barlow')
PRESETS = {
    'cpu-fmnist': dict(dataset='fashion-mnist', backbone='small-cnn', batch_size=256,
                       epochs=30),
    'cpu-cifar': dict(dataset='cifar10-jpeg', backbone='small-cnn', batch_size=256,
                      epochs=30),
    'gpu-cifar': dict(dataset='cifar10', backbone='resnet18', batch_size=512, epochs=200),
}


def run_one(preset: str, method: str, seed: int, epochs: int, subset: int, device: str,
            overrides: Dict, save_dir: Optional[Path] = None) -> Dict:
    from genurl_pyg.utils.resources import peak_rss_mb
    from genurl_pyg.vision.config import SSLConfig
    from genurl_pyg.vision.data import ImageData, load_images
    from genurl_pyg.vision.run import fit_visual_embeddings
    p = PRESETS[preset]
    data = load_images(p['dataset'])
    if subset:  # `subset` training images (a fixed, class-mixed permutation's prefix)
        from genurl_pyg.bench.tasks.ssl import subset_rows
        tx, ty = subset_rows(data.train_x, data.train_y, subset)
        data = ImageData(data.name, tx, ty, data.test_x, data.test_y, data.classes, data.note)
    cfg = SSLConfig.from_dict(dict(overrides, objective=method, backbone=p['backbone'],
                                   batch_size=p['batch_size'], epochs=epochs, seed=seed,
                                   device=device, monitor_every=0))
    t = time.perf_counter()
    backbone, result = fit_visual_embeddings(data, cfg, progress=_epoch_reporter(
        preset, method, seed, epochs))
    result.pop('test_features')
    row = {'preset': preset, 'method': method, 'seed': seed, 'epochs': epochs,
            'train_images': int(data.train_x.size(0)), 'knn': result['knn_accuracy'],
            'linear': result['linear_accuracy'], 'seconds_per_epoch': result['seconds_per_epoch'],
            'images_per_second': result['images_per_second'],
            'seconds': time.perf_counter() - t, 'peak_rss_mb': peak_rss_mb(),
            'losses': result['losses'], 'config': cfg.to_dict()}
    if save_dir is not None:
        row['backbone_dir'] = str(save_backbone(backbone, row, Path(save_dir)))
    return row


def backbone_folder(save_dir: Path, preset: str, method: str, seed: int) -> Path:
    """Where :func:`save_backbone` writes one row's backbone."""
    return Path(save_dir) / f'{preset}-{method}-s{seed}'


def save_backbone(backbone, row: Dict, save_dir: Path) -> Path:
    """Writes ``save_dir/<preset>-<method>-s<seed>/`` as a ``genurl-pyg ssl`` run folder
    (``backbone.pt``, the backbone's ``state_dict``, and ``result.json`` with the row and its
    config), so that a trained row serves as a distillation teacher
    (``kd_image_benchmark.py --teacher``, ``genurl_pyg.distill.load_image_teacher``) instead
    of being pretrained again. An existing folder is refused, not overwritten."""
    from genurl_pyg.utils.io import atomic_torch_save, atomic_write_json
    folder = backbone_folder(save_dir, row['preset'], row['method'], row['seed'])
    if (folder / 'backbone.pt').exists():
        raise FileExistsError(f'{folder} already holds a backbone; choose another '
                              '--save-backbones folder (nothing was overwritten)')
    folder.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(backbone.state_dict(), folder / 'backbone.pt')
    atomic_write_json(folder / 'result.json', {k: v for k, v in row.items() if k != 'losses'})
    return folder


def _epoch_reporter(preset: str, method: str, seed: int, epochs: int):
    """A progress callback that prints one stderr line per finished epoch: a full-budget
    row takes hours on CPU, and the row itself is written only when it ends."""
    started = time.perf_counter()

    def report(epoch, step, steps, loss, images_per_second):
        if step == steps:
            print(f'[ssl_benchmark] {preset} {method} seed {seed}: epoch {epoch}/{epochs}, '
                  f'loss {loss:.4f}, {images_per_second:.0f} img/s, '
                  f'{time.perf_counter() - started:.0f} s', file=sys.stderr, flush=True)
    return report


def run(args) -> None:
    import torch
    from genurl_pyg.utils.io import atomic_write_text
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    state = json.loads(out.read_text()) if args.resume and out.exists() else {
        'command': ' '.join(sys.argv), 'versions': versions(), 'threads': args.threads,
        'rows': []}
    done = {(r['preset'], r['method'], r['seed']) for r in state['rows']}
    epochs = args.epochs or PRESETS[args.preset]['epochs']
    overrides = dict(kv.split('=', 1) for kv in args.set)
    from genurl_pyg.utils.yamlio import safe_load
    overrides = {k: safe_load(v) for k, v in overrides.items()}
    todo = [(seed, method) for seed in range(args.seeds) for method in args.methods
            if (args.preset, method, seed) not in done]
    if args.save_backbones:  # refused before hours of training, not after
        for seed, method in todo:
            taken = backbone_folder(Path(args.save_backbones), args.preset, method, seed)
            if (taken / 'backbone.pt').exists():
                raise SystemExit(f'{taken} already holds a backbone; choose another '
                                 '--save-backbones folder (nothing was run)')
    for seed, method in todo:
        row = run_one(args.preset, method, seed, epochs, args.subset, args.device,
                      overrides if method == 'genurl' else {}, args.save_backbones)
        state['rows'].append(row)
        print(json.dumps({k: v for k, v in row.items() if k != 'losses'}), flush=True)
        atomic_write_text(out, json.dumps(state, indent=1))


def budget(row: Dict) -> tuple:
    """Rows compare only within one budget: preset, training images, epochs."""
    return row['preset'], int(row['train_images']), int(row['epochs'])


# GenURL's default P changed in session 20 (SSLConfig.view_weight 0.5 -> 1.0, views only),
# its Q in session 40 (latent_radius 0 -> 2, Q on a sphere); rows written before rows
# recorded their config ran the old defaults.
LEGACY = {'view_weight': 0.5, 'latent_radius': 0.0}


def method_label(row: Dict) -> str:
    """``genurl`` for rows of the current defaults (views only, Q on the radius-2 sphere);
    GenURL rows that ran another P or Q are labelled by the keys that differ, e.g.
    ``genurl (latent_radius 0)``, and judged against the peers too, so an old miss stays
    marked; the peers' names unchanged."""
    if row['method'] != 'genurl':
        return row['method']
    from genurl_pyg.vision.config import SSLConfig
    shipped, config = SSLConfig(), row.get('config', {})
    ran = {key: float(config.get(key, legacy)) for key, legacy in LEGACY.items()}
    differ = [f'{key} {value:g}' for key, value in ran.items()
              if value != float(getattr(shipped, key))]
    return f"genurl ({', '.join(differ)})" if differ else 'genurl'


def report(paths: List[str], notes: str = None, stem: str = 'ssl_benchmark') -> None:
    import numpy as np
    states = [json.loads(Path(p).read_text()) for p in paths]
    cells: Dict = {}
    for st in states:
        for r in st['rows']:
            cells.setdefault((budget(r), method_label(r)), {})[r['seed']] = r
    lines = ['# SSL benchmark (issue 14)', '',
             'Commands: ' + '; '.join(f"`{s['command']}`" for s in states), '',
             'Versions: ' + ', '.join(f'{k} {v}' for k, v in states[0]['versions'].items()),
             '', 'kNN: weighted kNN (k 200, T 0.1) on frozen backbone features; linear: '
             'logistic regression, C on 10 % of the training images; test accuracy (%), mean '
             '± std over seeds. Same backbone, views, batch, epochs, optimiser and schedule '
             'for every method. **missed**: GenURL below the best peer, or slower than 1.2x '
             "SimCLR's seconds per epoch.", '',
             '| preset (training images) | method | epochs | seeds | kNN | linear | s/epoch | '
             'images/s | peak MB | target |', '|---|---|---|---|---|---|---|---|---|---|']
    table = {}
    for (cell_budget, method), rows in sorted(cells.items()):
        rs = list(rows.values())

        def ms(key, scale=100.0):
            v = np.array([r[key] for r in rs]) * scale
            return float(v.mean()), float(v.std())
        table[(cell_budget, method)] = {k: ms(k) for k in ('knn', 'linear')}
        table[(cell_budget, method)]['spe'] = ms('seconds_per_epoch', 1.0)[0]
    for (cell_budget, method), rows in sorted(cells.items()):
        rs = list(rows.values())
        t = table[(cell_budget, method)]
        preset, images, epochs = cell_budget
        verdict = ''
        if method.startswith('genurl'):  # the default and the labelled older GenURL rows
            peers = [table[(cell_budget, m)] for m in METHODS[1:] if (cell_budget, m) in table]
            misses = [k for k in ('knn', 'linear')
                      if peers and t[k][0] < max(p[k][0] for p in peers)]
            simclr = table.get((cell_budget, 'simclr'))
            if simclr and t['spe'] > 1.2 * simclr['spe']:
                misses.append('speed')
            verdict = ('**missed** (' + ', '.join(misses) + ')') if misses else (
                'met' if peers else 'not judged: no peer row yet')
        lines.append(f"| {preset} ({images:,}) | {method} | {epochs} | {len(rs)} | "
                     f"{t['knn'][0]:.1f} ± {t['knn'][1]:.1f} | "
                     f"{t['linear'][0]:.1f} ± {t['linear'][1]:.1f} | {t['spe']:.1f} | "
                     f"{np.mean([r['images_per_second'] for r in rs]):.0f} | "
                     f"{max(r['peak_rss_mb'] for r in rs):.0f} | {verdict} |")
    text = '\n'.join(lines) + '\n'
    if notes:  # run conditions and reading, kept across re-reports
        text += '\n' + Path(notes).read_text()
    write_results(stem, {'runs': states}, text)
    print((RESULTS / f'{stem}.md').read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', choices=sorted(PRESETS), default='cpu-fmnist')
    p.add_argument('--methods', nargs='*', default=list(METHODS), choices=METHODS)
    p.add_argument('--seeds', type=int, default=1)
    p.add_argument('--epochs', type=int, default=None, help="default: the preset's")
    p.add_argument('--subset', type=int, default=0,
                   help='train on this many images only (0: all; for smoke runs)')
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help="SSLConfig override for GenURL's rows only")
    p.add_argument('--device', default='auto')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', default=str(RESULTS / 'ssl_run.json'))
    p.add_argument('--resume', action='store_true')
    p.add_argument('--save-backbones', default=None, metavar='DIR',
                   help="write each row's trained backbone to DIR/<preset>-<method>-s<seed>/ "
                        "(a `genurl-pyg ssl` run folder: kd_image_benchmark.py --teacher "
                        "takes it)")
    p.add_argument('--report', nargs='*', help='merge these JSON files into the table')
    p.add_argument('--notes', default=None, metavar='MD',
                   help='with --report: a Markdown file appended to the table')
    p.add_argument('--report-stem', default='ssl_benchmark', metavar='NAME',
                   help='with --report: write experiments/results/NAME.{json,md} (a table '
                        'of its own, e.g. a budget curve, beside the main one)')
    args = p.parse_args()
    if args.report_stem != 'ssl_benchmark' and not args.report:
        p.error('--report-stem names the table that --report writes; give --report too')
    check_stem('--report-stem', args.report_stem, p.error)
    if args.report:
        report(args.report, args.notes, args.report_stem)
    else:
        run(args)


if __name__ == '__main__':
    main()
