"""The ``train`` and ``eval`` jobs behind the CLI: seeds, checkpoints, results, plots."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch

from .. import distributed
from ..datasets import get_spec, load_dataset
from ..evaluation import linear_probe, ogb_node_metric, split_for, summarize
from ..utils.io import atomic_torch_save, atomic_write_json, atomic_write_text
from ..utils.resources import peak_rss_mb
from ..utils.versions import library_versions
from .config import NodeConfig
from .trainer import NodeEmbeddingTrainer


def _progress_bar(total: int, desc: str, initial: int, enabled: bool):
    from tqdm.auto import tqdm
    bar = tqdm(total=total, desc=desc, initial=initial, disable=not enabled, leave=False,
               file=sys.stderr, dynamic_ncols=True)

    def update(epoch: int, loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f'{loss:.4f}')
    return bar, update


def train_job(dataset: str, config: NodeConfig, seeds: int, out: Path,
              root: Optional[str] = None, resume: bool = False, plot: bool = False,
              progress: bool = True, command: str = '', log=print) -> Dict:
    """Trains ``seeds`` embeddings, probes each, and writes the run folder ``out``.

    Layout: ``config.yaml`` (resolved), ``embeddings.pt`` (seed 0, ``[N, d]``),
    ``embeddings/seed<i>.pt``, ``checkpoints/seed<i>.pt`` (while training),
    ``progress.json`` (finished seeds), ``result.json``, optional ``embeddings.png``.
    Every file is written atomically.
    """
    spec = get_spec(dataset)
    ctx = distributed.context(config.device)
    # Under torchrun only rank 0 checks, writes, logs and draws progress; the others follow.
    main = ctx.is_main
    if main and (out / 'result.json').exists() and not resume:
        raise FileExistsError(f"{out / 'result.json'} exists; pass --resume to continue that "
                              'run or choose another --out')
    if main:  # rank 0 copies from the mirror and processes first; the others then read
        data = load_dataset(dataset, root)
    ctx.barrier()
    if not main:
        data = load_dataset(dataset, root)
    progress_path = out / 'progress.json'
    done = _finished_seeds(progress_path, config) if resume else {}
    if main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / 'config.yaml', config.to_yaml())
    for i in range(seeds):
        seed = config.seed + i
        if str(seed) in done:
            if main:
                log(f'seed {seed}: already finished, skipping')
            continue
        cfg = NodeConfig.from_dict({'seed': seed}, base=config)
        ckpt = out / 'checkpoints' / f'seed{seed}.pt'
        start = time.perf_counter()
        # Every rank builds the same model and resumes from rank 0's checkpoint, so DDP's
        # ranks train in lockstep; only rank 0 writes (fit checkpoints on rank 0 only).
        trainer = NodeEmbeddingTrainer(data, cfg)
        if resume and ckpt.exists():
            trainer.load_checkpoint(ckpt)
            if main:
                log(f'seed {seed}: resuming from epoch {trainer.state.epoch}')
        bar, update = _progress_bar(cfg.epochs, f'{spec.name} seed {seed}',
                                    trainer.state.epoch, progress and main)
        trainer.progress = update
        h = trainer.fit(checkpoint=ckpt)
        bar.close()
        if not main:
            continue
        seconds = time.perf_counter() - start
        atomic_torch_save(h, out / 'embeddings' / f'seed{seed}.pt')
        if i == 0:
            atomic_torch_save(h, out / 'embeddings.pt')
        sc = score_embeddings(h, data, spec.name, spec.protocol, seed)
        metric = sc.pop('metric')
        done[str(seed)] = {'metric': metric, metric: sc.pop('test'),
                           f'val_{metric}': sc.pop('val'), **sc,
                           'seconds': seconds, 'lambda': trainer.sim.lam,
                           'final_loss': trainer.state.losses[-1]}
        log(f"seed {seed}: test {metric} {done[str(seed)][metric]:.4f} (val "
            f"{done[str(seed)][f'val_{metric}']:.4f}) in {seconds:.1f} s")
        atomic_write_json(progress_path, {'config': config.to_dict(), 'seeds': done})
        if ckpt.exists():
            ckpt.unlink()
        if plot and i == 0:
            from ..plotting import scatter_embedding
            scatter_embedding(h, data.y, out / 'embeddings.png',
                              title=f'GenURL on {spec.name} (seed {seed})')
    if not main:  # the others follow rank 0 and write nothing
        return {}
    seeds_run = [str(config.seed + i) for i in range(seeds)]
    # From the records, not the loop: a resumed run may have had every seed finished already.
    metric = done[seeds_run[0]]['metric']
    result = {
        'dataset': spec.name, 'protocol': spec.protocol,
        'probe': PROBES.get(metric, ''),
        'seeds': [int(s) for s in seeds_run],
        'metric': metric,
        metric: summarize([done[s][metric] for s in seeds_run]),
        f'val_{metric}': summarize([done[s][f'val_{metric}'] for s in seeds_run]),
        'seconds_per_seed': summarize([done[s]['seconds'] for s in seeds_run]),
        'lambda': done[seeds_run[0]]['lambda'],
        'peak_rss_mb': peak_rss_mb(), 'processes': ctx.world_size, 'command': command,
        'config': config.to_dict(), 'versions': library_versions(),
    }
    atomic_write_json(out / 'result.json', result)
    return result


def _finished_seeds(progress_path: Path, config: NodeConfig) -> Dict[str, Dict]:
    """The seeds a resumed run already finished (``{}`` when there is no progress file)."""
    if not progress_path.exists():
        return {}
    state = json.loads(progress_path.read_text())
    if state.get('config') != config.to_dict():
        raise ValueError(f'{progress_path.parent} holds a run with a different config; '
                         'resume needs the same config')
    return state['seeds']


PROBES = {'accuracy': 'logistic regression on standardised frozen embeddings, C chosen on val',
          'hits@20': 'MLP link predictor on frozen embeddings (h_i * h_j), epoch chosen on val'}


def score_embeddings(h: torch.Tensor, data, dataset: str, protocol: str, seed: int) -> Dict:
    """The data set's own evaluation of frozen embeddings: ``{'metric', 'test', 'val', ...}``.
    Node protocols: the linear probe (OGB's official Evaluator for ogbn-*); ``ogb-link``:
    link prediction scored by OGB's official Evaluator (ogbl-ddi: Hits@20)."""
    if protocol == 'ogb-link':
        from ..link_evaluation import link_probe, ogb_link_metric
        r = link_probe(h, data.link_train_pos, data.link_val_pos, data.link_val_neg,
                       data.link_test_pos, data.link_test_neg, k=20,
                       metric=ogb_link_metric(dataset), seed=seed)
        return {'metric': r.metric, 'test': r.test, 'val': r.val, 'epoch': r.epoch}
    score = ogb_node_metric(dataset) if protocol == 'ogb-official' else None
    p = linear_probe(h, data.y, *split_for(data, protocol, seed), score=score)
    return {'metric': 'accuracy', 'test': p.test_accuracy, 'val': p.val_accuracy, 'C': p.C}


def eval_job(embeddings: Path, dataset: str, seeds: int, root: Optional[str] = None,
             seed: int = 0) -> Dict:
    """Re-evaluates saved embeddings (a ``[N, d]`` tensor file) with the data set's protocol."""
    if not embeddings.is_file():
        raise FileNotFoundError(f"embeddings file {str(embeddings)!r} does not exist")
    spec = get_spec(dataset)
    h = torch.load(embeddings, map_location='cpu', weights_only=True)
    data = load_dataset(dataset, root)
    if not isinstance(h, torch.Tensor) or h.dim() != 2 or h.size(0) != data.num_nodes:
        shape = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
        raise ValueError(f'{embeddings} must hold an [N, d] tensor with N = {data.num_nodes} '
                         f'for {spec.name}, got {shape}')
    random_splits = spec.protocol.startswith('random')
    seeds_used: List[int] = [seed + i for i in range(seeds if random_splits else 1)]
    scores = [score_embeddings(h, data, spec.name, spec.protocol, s) for s in seeds_used]
    metric = scores[0]['metric']
    return {'dataset': spec.name, 'protocol': spec.protocol, 'embeddings': str(embeddings),
            'split_seeds': seeds_used, 'metric': metric,
            metric: summarize([sc['test'] for sc in scores])}
