"""Self-supervised visual pretraining: GenURL against SimCLR, BYOL and Barlow Twins.

Every method trains the same backbone with the same views, batch size, epochs, optimiser and
schedule (:class:`~genurl_pyg.vision.VisualTrainer`; the peers' losses and heads are
lightly's), then the frozen backbone is scored by the weighted kNN monitor (k 200,
temperature 0.1; primary) and the linear probe (logistic regression, ``C`` on 10 % of the
training images). ``params``: any :class:`~genurl_pyg.vision.config.SSLConfig` key
(``epochs``, ``backbone``, ``batch_size``, ``monitor_every``, ``device``) plus ``subset`` /
``test_subset`` (keep that many training / test images of a fixed class-mixed permutation).
The kNN accuracy after every ``monitor_every`` epochs is kept for the report's curve.
Cost: epochs · N images through the backbone twice, plus O(N_test · N) for the monitor.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List

from ..schema import CellSpec, Metric
from . import CellContext, Task, combine, mean_of, versus_best

METHODS = ('genurl', 'simclr', 'byol', 'barlow')
PEERS = ('simclr', 'byol', 'barlow')

METRICS = (
    Metric('knn', 'kNN acc. (%)', primary=True),
    Metric('linear', 'linear probe acc. (%)'),
    Metric('seconds_per_epoch', 's/epoch', higher_is_better=False, noise_floor=2.0,
           percent=False, digits=1),
)


def subset_rows(x, y, count, seed: int = 0):
    """``count`` rows of ``(x, y)`` drawn by a permutation under ``seed`` (class-mixed);
    all of them when ``count`` is 0 or larger than the set."""
    import torch
    if not count or int(count) >= x.size(0):
        return x, y
    keep = torch.randperm(x.size(0), generator=torch.Generator().manual_seed(seed))[:int(count)]
    return x[keep], y[keep]


def rows_beside_subset(x, y, count, held: int, seed: int = 0):
    """``held`` rows of ``(x, y)`` that :func:`subset_rows` (same ``count`` and ``seed``)
    does not draw: the next ``held`` of its permutation, class-mixed like the subset, for
    held-out validation beside a training subset. Refuses a subset that leaves fewer than
    ``held`` rows."""
    import torch
    count, held = int(count or 0), int(held)
    if held < 1:
        raise ValueError(f'the held-out rows must number at least 1, got {held}')
    if not count or count + held > x.size(0):
        raise ValueError(f'{held} held-out rows beside a subset of {count or x.size(0)} need '
                         f'{(count or x.size(0)) + held} rows; the set has {x.size(0)}')
    order = torch.randperm(x.size(0), generator=torch.Generator().manual_seed(seed))
    keep = order[count:count + held]
    return x[keep], y[keep]


def run(cell: CellSpec, ctx: CellContext) -> Dict[str, Any]:
    from ...vision.config import SSLConfig
    from ...vision.data import ImageData, load_images
    from ...vision.run import fit_visual_embeddings
    params = dict(cell.params)
    subset, test_subset = params.pop('subset', 0), params.pop('test_subset', 0)
    data = load_images(cell.dataset)
    tx, ty = subset_rows(data.train_x, data.train_y, subset)
    vx, vy = subset_rows(data.test_x, data.test_y, test_subset, seed=1)
    data = ImageData(data.name, tx, ty, vx, vy, data.classes, data.note)
    cfg = SSLConfig.from_dict({**params, 'objective': cell.method, 'seed': cell.seed})
    start = time.perf_counter()
    _, result = fit_visual_embeddings(data, cfg)
    result.pop('test_features', None)
    # The trainer monitors the epochs before the last; the final kNN score closes the curve.
    history = [*result['knn_history'],
               {'epoch': result['epochs'], 'accuracy': result['knn_accuracy']}]
    return {'metrics': {'knn': result['knn_accuracy'], 'linear': result['linear_accuracy'],
                        'seconds_per_epoch': result['seconds_per_epoch']},
            'seconds': time.perf_counter() - start, 'n': int(tx.size(0)), 'note': data.note,
            'extra': {'epochs': result['epochs'], 'backbone': cfg.backbone,
                      'batch_size': cfg.batch_size, 'knn_history': history,
                      'images_per_second': result['images_per_second'],
                      'test_images': int(vx.size(0))}}


def targets(rows: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Issue 14: kNN and linear accuracy >= the best peer's, s/epoch <= 1.2x SimCLR's."""
    speed = None
    mine, simclr = mean_of(rows, 'genurl', 'seconds_per_epoch'), mean_of(
        rows, 'simclr', 'seconds_per_epoch')
    if mine is not None and simclr is not None:
        speed = {'text': f's/epoch <= 1.2x SimCLR ({1.2 * simclr:.1f})',
                 'met': mine <= 1.2 * simclr}
    verdict = combine(versus_best(rows, METRICS[0], PEERS), versus_best(rows, METRICS[1], PEERS),
                      speed)
    return {'genurl': verdict} if verdict else {}


TASK = Task('ssl', 'Self-supervised visual learning (frozen backbone)', METRICS, run,
            targets, METHODS)
