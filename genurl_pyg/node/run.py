"""The ``train`` and ``eval`` jobs behind the CLI: seeds, checkpoints, results, plots."""
from __future__ import annotations

import math
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, List, Optional

import torch

from .._validation import all_finite
from .. import distributed
from ..datasets import get_spec, load_dataset
from ..structure.trust import LOW_INFORMATION, LOW_TRUST
from ..evaluation import linear_probe, ogb_node_metric, split_for, summarize
from ..utils.io import (atomic_torch_save, atomic_write_json, atomic_write_text,
                        ensure_writable_dir, load_torch_file, read_json_object)
from ..utils.progress import epoch_progress_bar
from ..utils.resources import peak_rss_mb
from ..utils.versions import library_versions
from .config import NodeConfig, config_differences
from .trainer import NodeEmbeddingTrainer


def run_identity(dataset: str, protocol: str) -> Dict[str, str]:
    """What a run folder is a run of, besides its config: checked before any resume."""
    from .. import __version__
    return {'dataset': dataset, 'protocol': protocol, 'genurl_pyg': __version__}


def train_job(dataset: str, config: NodeConfig, seeds: int, out: Path,
              root: Optional[str] = None, resume: bool = False, plot: bool = False,
              progress: bool = True, command: str = '', log=print) -> Dict:
    """Trains ``seeds`` embeddings, probes each, and writes the run folder ``out``.

    Layout: ``config.yaml`` (resolved), ``embeddings.pt`` (first seed, ``[N, d]``),
    ``embeddings/seed<i>.pt``, ``checkpoints/seed<i>.pt`` (while training),
    ``progress.json`` (what the run is of, and its finished seeds), ``result.json``,
    optional ``embeddings.png``. Every file is written atomically. Everything is checked
    before anything is written: an existing folder is only continued with ``resume=True``,
    and only when it holds a run of the same data set, protocol, config and package
    version (the error names what differs). On resume, outputs that a finished seed should
    have but lacks (the plot, the first seed's ``embeddings.pt``) are produced.
    """
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f'--seeds must be an integer >= 1, got {seeds!r}')
    spec = get_spec(dataset)
    ctx = distributed.context(config.device)
    # Under torchrun only rank 0 checks, writes, logs and draws progress; the others follow.
    main = ctx.is_main
    identity = run_identity(spec.name, spec.protocol)
    progress_path = out / 'progress.json'
    done: Dict[str, Dict] = {}

    def record() -> None:  # what this run is of, and its finished seeds
        atomic_write_json(progress_path, {'run': identity, 'config': config.to_dict(),
                                          'seeds': done})

    if main:
        _check_run_folder(out, identity, config, resume)
        done = _finished_seeds(progress_path, identity, config) if resume else {}
        ensure_writable_dir(out)
        with _phase(f'{spec.name}: loading the data set', progress, log):
            data = load_dataset(dataset, root)  # rank 0 copies from the mirror, processes first
        atomic_write_text(out / 'config.yaml', config.to_yaml())
        _restore_outputs(out, done, config.seed, data, spec.name, plot, log)
        if resume:  # seeds whose embedding file is gone are not finished: retrain them
            record()
    ctx.barrier()
    if not main:  # after rank 0's checks and repairs, the same seeds for every rank
        data = load_dataset(dataset, root)
        done = _finished_seeds(progress_path, identity, config) if resume else {}

    plan = None  # the memory plan of the first seed trained here (the same for every seed)
    for i in range(seeds):
        seed = config.seed + i
        if str(seed) in done:
            if main:
                log(f'seed {seed}: already finished, skipping')
            continue
        cfg = NodeConfig.from_dict({'seed': seed}, base=config)
        ckpt = out / 'checkpoints' / f'seed{seed}.pt'
        # Every rank builds the same model and resumes from rank 0's checkpoint, so DDP's
        # ranks train in lockstep; only rank 0 writes (fit checkpoints on rank 0 only).
        with _phase(f'{spec.name} seed {seed}: building P and the model', progress and main,
                    log):
            trainer = NodeEmbeddingTrainer(data, cfg)
        if main and plan is None:
            plan = trainer.plan.to_dict()
            for line in trainer.plan.lines():
                log(line)
            trust = _finite_or_none(trainer.graph_trust)
            info = _finite_or_none(trainer.graph_information)
            log(f'encoder: {trainer.encoder_name}' + ('' if trust is None else
                f' (graph-feature agreement {trust:+.3f}; encoder auto avoids GCN below '
                f'{LOW_TRUST})') + ('' if info is None else
                f' (edge information {info:.4f} nats; below {LOW_INFORMATION}, in a graph '
                f'without triangle structure, auto leaves the graph out)'))
            if trainer.graph_noise:
                log('the edges look like a random graph: ' + (
                    'the graph is left out of P' if trainer.encoder_name == 'mlp'
                    and trainer.sim.lam == 0 else 'see the warning above'))
        if resume and ckpt.exists():
            trainer.load_checkpoint(ckpt)
            if main:
                log(f'seed {seed}: resuming from epoch {trainer.state.epoch}')
        bar, update = epoch_progress_bar(cfg.epochs, f'{spec.name} seed {seed}',
                                    trainer.state.epoch, progress and main)
        trainer.progress = update
        h = trainer.fit(checkpoint=ckpt)
        bar.close()
        if not main:
            continue
        seconds = trainer.elapsed_seconds  # earlier processes' time on this seed included
        atomic_torch_save(h, out / 'embeddings' / f'seed{seed}.pt')
        if i == 0:
            atomic_torch_save(h, out / 'embeddings.pt')
        with _phase(f'{spec.name} seed {seed}: linear probe', progress, log):
            sc = score_embeddings(h, data, spec.name, spec.protocol, seed)
        metric = sc.pop('metric')
        done[str(seed)] = {'metric': metric, metric: sc.pop('test'),
                           f'val_{metric}': sc.pop('val'), **sc,
                           'seconds': seconds, 'lambda': trainer.sim.lam,
                           'encoder': trainer.encoder_name,
                           # nan ("features without geometry") is not valid JSON: null
                           'graph_trust': _finite_or_none(trainer.graph_trust),
                           'graph_information': _finite_or_none(trainer.graph_information),
                           'graph_closure': _finite_or_none(trainer.graph_closure),
                           'graph_noise': trainer.graph_noise,
                           'final_loss': trainer.state.losses[-1]}
        log(f"seed {seed}: test {metric} {done[str(seed)][metric]:.4f} (val "
            f"{done[str(seed)][f'val_{metric}']:.4f}) in {seconds:.1f} s")
        record()
        if ckpt.exists():
            ckpt.unlink()
        if plot and i == 0:
            _plot(h, data, out, spec.name, seed, progress, log)
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
        'memory_plan': plan, 'run': identity, 'config': config.to_dict(),
        'versions': library_versions(),
    }
    atomic_write_json(out / 'result.json', result)
    return result


@contextmanager
def _phase(name: str, enabled: bool, log):
    """Announces a phase with no natural progress steps (probe, plot) and its duration."""
    start = time.perf_counter()
    if enabled:
        print(f'{name} ...', file=sys.stderr, flush=True)
    yield
    if enabled:
        print(f'{name}: done in {time.perf_counter() - start:.1f} s', file=sys.stderr, flush=True)


def _plot(h: torch.Tensor, data, out: Path, name: str, seed: int, progress: bool, log) -> None:
    from ..plotting import scatter_embedding
    with _phase(f'{name} seed {seed}: 2-D projection for embeddings.png', progress, log):
        scatter_embedding(h, data.y, out / 'embeddings.png',
                          title=f'GenURL on {name} (seed {seed})')


def _restore_outputs(out: Path, done: Dict[str, Dict], first_seed: int, data, name: str,
                     plot: bool, log) -> None:
    """Resume: a finished seed whose embedding file is missing is dropped from ``done`` (it
    is retrained); the first seed's ``embeddings.pt`` and, with ``plot``, its
    ``embeddings.png`` are produced again when a killed run did not get to write them."""
    for seed in list(done):
        if not (out / 'embeddings' / f'seed{seed}.pt').is_file():
            log(f'seed {seed}: its embeddings file is missing; training it again')
            del done[seed]
    first = str(first_seed)
    if first not in done:
        return
    source = out / 'embeddings' / f'seed{first}.pt'
    if not (out / 'embeddings.pt').is_file() or (plot and not (out / 'embeddings.png').is_file()):
        h = load_torch_file(source, 'embeddings file')
        if not (out / 'embeddings.pt').is_file():
            atomic_torch_save(h, out / 'embeddings.pt')
            log(f'seed {first}: restored embeddings.pt from {source}')
        if plot and not (out / 'embeddings.png').is_file():
            _plot(h, data, out, name, first_seed, True, log)


def _check_run_folder(out: Path, identity: Dict[str, str], config: NodeConfig,
                      resume: bool) -> None:
    """Refuses to write into a folder that holds another run, or (without ``resume``) any run."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a file, not a folder")
    held = [f for f in ('result.json', 'progress.json') if (out / f).exists()]
    if held and not resume:
        raise FileExistsError(f"{out} already holds a run ({', '.join(held)}); pass --resume to "
                              'continue it or choose another --out')
    if resume and (out / 'result.json').exists():
        result = read_json_object(out / 'result.json')
        theirs = result.get('run') or {'dataset': result.get('dataset'),
                                       'protocol': result.get('protocol')}
        _same_run(out / 'result.json', theirs, identity, result.get('config'), config)


def _same_run(path: Path, theirs: Dict, ours: Dict, their_config, config: NodeConfig) -> None:
    diff = [f'{k}: {theirs.get(k)!r} there, {v!r} now' for k, v in ours.items()
            if theirs.get(k) != v]
    if diff:
        raise ValueError(f"{path.parent} holds a different run ({'; '.join(diff)}); resume "
                         'needs the same data set, protocol and genurl-pyg version: choose '
                         'another --out')
    if their_config is not None and their_config != config.to_dict():
        diff = config_differences(their_config, config.to_dict())
        raise ValueError(f"{path.parent} holds a run with a different config "
                         f"({'; '.join(diff)}); resume needs the same config")


def _finished_seeds(progress_path: Path, identity: Dict[str, str],
                    config: NodeConfig) -> Dict[str, Dict]:
    """The seeds a resumed run already finished (``{}`` when there is no progress file)."""
    if not progress_path.exists():
        return {}
    state = read_json_object(progress_path)
    if 'run' not in state or 'seeds' not in state:
        raise ValueError(f'{progress_path} has no run record (written by an older genurl-pyg '
                         'or damaged); it cannot be resumed safely: choose another --out')
    _same_run(progress_path, state['run'], identity, state.get('config'), config)
    return dict(state['seeds'])


PROBES = {'accuracy': 'logistic regression on standardised frozen embeddings, C chosen on val',
          'hits@20': 'MLP link predictor on frozen embeddings (h_i * h_j), epoch chosen on val'}


def _finite_or_none(value: Optional[float]) -> Optional[float]:
    return value if value is not None and math.isfinite(value) else None


def score_embeddings(h: torch.Tensor, data, dataset: str, protocol: str, seed: int) -> Dict:
    """The data set's own evaluation of frozen embeddings: ``{'metric', 'test', 'val', ...}``.
    Node protocols: the linear probe (OGB's official Evaluator for ogbn-*); ``ogb-link``:
    link prediction scored by OGB's official Evaluator (ogbl-ddi: Hits@20)."""
    if protocol == 'ogb-link':
        from ..evaluation.link import link_probe, ogb_link_metric
        r = link_probe(h, data.link_train_pos, data.link_val_pos, data.link_val_neg,
                       data.link_test_pos, data.link_test_neg, k=20,
                       metric=ogb_link_metric(dataset), seed=seed)
        return {'metric': r.metric, 'test': r.test, 'val': r.val, 'epoch': r.epoch}
    score = ogb_node_metric(dataset) if protocol == 'ogb-official' else None
    metric = get_spec(dataset).metric
    p = linear_probe(h, data.y, *split_for(data, protocol, seed), score=score, metric=metric)
    return {'metric': metric, 'test': p.test_accuracy, 'val': p.val_accuracy, 'C': p.C}


def eval_job(embeddings: Path, dataset: str, seeds: int, root: Optional[str] = None,
             seed: int = 0, progress: bool = False) -> Dict:
    """Re-evaluates saved embeddings (a ``[N, d]`` tensor file) with the data set's protocol."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f'--seeds must be an integer >= 1, got {seeds!r}')
    if embeddings.is_dir():
        raise ValueError(f"--embeddings {str(embeddings)!r} is a folder; give the .pt file "
                         "(a run folder holds embeddings.pt)")
    if not embeddings.is_file():
        raise FileNotFoundError(f"embeddings file {str(embeddings)!r} does not exist")
    spec = get_spec(dataset)
    h = load_torch_file(embeddings, 'embeddings file')
    if isinstance(h, torch.Tensor) and h.dim() == 2 and not all_finite(h):
        raise ValueError(f'{embeddings} holds NaN or infinite values')
    data = load_dataset(dataset, root)
    if not isinstance(h, torch.Tensor) or h.dim() != 2 or h.size(0) != data.num_nodes:
        shape = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
        raise ValueError(f'{embeddings} must hold an [N, d] tensor with N = {data.num_nodes} '
                         f'for {spec.name}, got {shape}')
    random_splits = spec.protocol.startswith('random')
    seeds_used: List[int] = [seed + i for i in range(seeds if random_splits else 1)]
    scores = []
    for s in seeds_used:  # a probe fit per split: seconds each on the larger graphs
        with _phase(f'{spec.name}: linear probe on split {s}', progress, print):
            scores.append(score_embeddings(h, data, spec.name, spec.protocol, s))
    metric = scores[0]['metric']
    return {'dataset': spec.name, 'protocol': spec.protocol, 'embeddings': str(embeddings),
            'split_seeds': seeds_used, 'metric': metric,
            metric: summarize([sc['test'] for sc in scores])}
