"""The ``genurl-pyg distill`` jobs: teacher in, graph-free student out, both probed.

Images (:func:`distill_images_job`): a pretrained backbone into the small CNN, scored by the
vision task's kNN monitor and linear probe on the test images. Graphs (:func:`distill_job`),
per seed: the teacher's embeddings (a file, a ``train`` run folder, or the data set's default
GenURL GCN trained here), the student distilled from them (checkpointed, resumable), the
project's linear probe on the teacher's and the student's embeddings of the same split, and
the inference time of each on the full graph. Inductive setting: a share of the test nodes
is held out, the teacher is trained on the rest of the graph and the student on the rest of
the nodes; the probe's test nodes are the held-out ones, embedded by the teacher on the full
graph and by the student from their features alone.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import Tensor

from .._validation import all_finite
from ..datasets import get_spec, load_dataset
from ..evaluation import linear_probe, split_for, summarize
from ..utils.io import (atomic_torch_save, atomic_write_json, atomic_write_text,
                        ensure_writable_dir, load_torch_file, read_json_object)
from ..utils.progress import epoch_progress_bar
from ..utils.resources import median_seconds, peak_rss_mb
from ..utils.versions import library_versions
from .config import DistillConfig
from .distiller import GenURLDistiller
from .graph import (distill_node_embeddings, glnn_targets, inductive_split,
                    observed_masks, observed_subgraph)

SETTINGS = ('transductive', 'inductive')
TRAIN_TEACHER = 'genurl'  # --teacher genurl: the data set's default GenURL config, per seed


def load_teacher_file(path: Path, num_nodes: int, seed: int) -> Tensor:
    """Teacher embeddings from a ``[N, d]`` tensor file, or from a ``genurl-pyg train`` run
    folder (its ``embeddings/seed<seed>.pt``, else its ``embeddings.pt``)."""
    path = Path(path)
    if path.is_dir():
        per_seed = path / 'embeddings' / f'seed{seed}.pt'
        path = per_seed if per_seed.is_file() else path / 'embeddings.pt'
    if not path.is_file():
        raise FileNotFoundError(f"teacher embeddings {str(path)!r} do not exist (give a "
                                f"[N, d] tensor file, a train run folder, or "
                                f"'{TRAIN_TEACHER}' to train the teacher here)")
    t = load_torch_file(path, 'teacher embeddings')
    if not isinstance(t, Tensor) or t.dim() != 2:
        shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
        raise ValueError(f"teacher embeddings {str(path)!r} must hold an [N, d] tensor, got "
                         f"{shape}")
    if t.size(0) != num_nodes:
        raise ValueError(f"teacher embeddings {str(path)!r} have {t.size(0)} rows, the data "
                         f"set has {num_nodes} nodes: they belong to another graph")
    if not all_finite(t):
        raise ValueError(f"teacher embeddings {str(path)!r} contain NaN or infinite values")
    return t.float()


#: inference seconds in ``result.json`` are the median of this many calls after the one
#: whose output is kept: a single call right after training reads the process's state
#: (5.8 s on Physics for a student that embeds it in 0.7 s, session 64), not the model
INFER_REPEATS = 3
#: a first call slower than this is read as it is: compute dominates, and repeating it
#: would add minutes to a large graph's job for a warm-up effect of a fraction of a second
INFER_REPEAT_BELOW_S = 60.0


def _timed(fn: Callable[[], Tensor]) -> Tuple[Tensor, float]:
    """``fn()``'s output and its inference seconds: the median of :data:`INFER_REPEATS`
    further calls (the first is the warm-up), or the first call's time when it is over
    :data:`INFER_REPEAT_BELOW_S`."""
    start = time.perf_counter()
    out = fn()
    first = time.perf_counter() - start
    if first > INFER_REPEAT_BELOW_S:
        return out, first
    return out, median_seconds(fn, INFER_REPEATS, warmups=0)  # the first call warmed up


def train_teacher(data, dataset: str, seed: int, held_out: Optional[Tensor],
                  overrides: Optional[Dict] = None):
    """The data set's default GenURL run as teacher (``overrides``: config keys to change,
    e.g. fewer epochs in a smoke test): trained on ``data`` (or on its observed subgraph),
    then run on the full graph. Returns (train-rows embeddings, full-graph embeddings,
    seconds to embed the full graph, the trainer)."""
    from ..node.config import NodeConfig, dataset_defaults
    from ..node.trainer import NodeEmbeddingTrainer
    cfg = NodeConfig.from_dict({**(overrides or {}), 'seed': seed},
                               base=dataset_defaults(dataset))
    train_data = data if held_out is None else observed_subgraph(data, held_out)
    trainer = NodeEmbeddingTrainer(train_data, cfg)
    t_train = trainer.fit()
    t_full, secs = _timed(lambda: trainer.embed_graph(data.x, data.edge_index))
    return t_train, t_full, secs, trainer


def distill_seed(data, dataset: str, protocol: str, teacher: str, cfg: DistillConfig,
                 setting: str, holdout: float, checkpoint: Optional[Path] = None,
                 progress: Optional[Callable[[int, float], None]] = None
                 ) -> Tuple[Dict, Tensor, GenURLDistiller]:
    """One seed of the job: returns (record, student embeddings of all nodes, the fitted
    distiller)."""
    seed = cfg.seed
    train_mask, val_mask, test_mask = split_for(data, protocol, seed)
    held = inductive_split(test_mask, holdout, seed) if setting == 'inductive' else None
    start = time.perf_counter()
    if teacher == TRAIN_TEACHER:
        t_train, t_full, teacher_infer_s, _ = train_teacher(data, dataset, seed, held)
    else:
        if held is not None:
            raise ValueError("the inductive setting trains its teacher on the observed "
                             f"subgraph: use --teacher {TRAIN_TEACHER}")
        t_full = load_teacher_file(Path(teacher), data.num_nodes, seed)
        t_train, teacher_infer_s = t_full, None
    teacher_s = time.perf_counter() - start
    train_data = data if held is None else observed_subgraph(data, held)
    target, labels = t_train, None
    if cfg.objective == 'glnn':  # the supervised reference: the teacher's probe as logits
        target, labels = glnn_targets(t_train, train_data.y,
                                      *observed_masks(held, train_mask, val_mask))
    distiller = distill_node_embeddings(train_data, target, cfg, checkpoint=checkpoint,
                                        progress=progress, labels=labels)
    s_full, student_infer_s = _timed(lambda: distiller.embed(data.x))
    eval_test = test_mask if held is None else held
    rec = {'seed': seed, 'setting': setting, 'teacher_seconds': teacher_s,
           'student_seconds': distiller.elapsed_seconds,
           'teacher_inference_seconds': teacher_infer_s,
           'student_inference_seconds': student_infer_s,
           'final_loss': distiller.state.losses[-1],
           'train_nodes': int(train_data.num_nodes), 'test_nodes': int(eval_test.sum())}
    for who, emb in (('teacher', t_full), ('student', s_full)):
        p = linear_probe(emb, data.y, train_mask, val_mask, eval_test)
        rec[f'{who}_accuracy'], rec[f'{who}_val_accuracy'] = p.test_accuracy, p.val_accuracy
    if cfg.objective == 'glnn':  # the reference's own class predictions, beside the probe's
        hit = (head_predictions(distiller, s_full) == data.y.cpu()).float()
        rec['student_head_accuracy'] = float(hit[eval_test].mean())
        rec['student_head_val_accuracy'] = float(hit[val_mask].mean())
    return rec, s_full, distiller


def head_predictions(distiller: GenURLDistiller, embeddings: Tensor) -> Tensor:
    """A glnn student's own classes (its head's argmax) from its ``embeddings`` of the
    rows (``distiller.embed``; a bank's columns, joined after the student's, are not the
    head's input). O(N d C)."""
    width = distiller.objective.head.in_features
    with torch.no_grad():
        logits = distiller.objective.logits(embeddings[:, :width].to(distiller.device))
    return logits.argmax(1).cpu()


def distill_job(dataset: str, teacher: str, cfg: DistillConfig, seeds: int, out: Path,
                root: Optional[str] = None, setting: str = 'transductive',
                holdout: float = 0.2, resume: bool = False, progress: bool = True,
                command: str = '', log: Callable[[str], None] = print) -> Dict:
    """Runs ``seeds`` seeds and writes ``out/``: ``config.yaml``, ``progress.json``
    (finished seeds; ``--resume`` skips them), ``students/seed<i>.pt`` (state dicts; with
    ``bank_k`` also ``seed<i>_bank.pt``; with objective ``glnn`` also ``seed<i>_head.pt``,
    whose own predictions ``result.json`` scores as ``student_head_accuracy``),
    ``embeddings/seed<i>.pt`` (student embeddings of all nodes), ``checkpoints/`` while
    training, and ``result.json`` (teacher and student probe accuracy, seconds, inference
    time, peak memory, versions)."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f'--seeds must be an integer >= 1, got {seeds!r}')
    if setting not in SETTINGS:
        raise ValueError(f"--setting must be one of {SETTINGS}, got {setting!r}")
    spec = get_spec(dataset)
    if teacher != TRAIN_TEACHER and not Path(teacher).exists():
        raise FileNotFoundError(f"--teacher {teacher!r} does not exist (a tensor file, a "
                                f"train run folder, or '{TRAIN_TEACHER}')")
    identity = {'dataset': spec.name, 'protocol': spec.protocol, 'teacher': str(teacher),
                'setting': setting, 'holdout': holdout, 'config': cfg.to_dict()}
    out = Path(out)
    done = _open_run(out, identity, resume, cfg)
    data = load_dataset(dataset, root)
    if getattr(data, 'y', None) is None:
        raise ValueError(f'{spec.name} has no node labels: the probe that scores teacher and '
                         'student needs them')
    for seed, seed_cfg, ckpt in _pending_seeds(cfg, seeds, done, out, log):
        log(f'{spec.name} seed {seed}: {setting}, teacher '
            f"{'trained here' if teacher == TRAIN_TEACHER else teacher}, "
            f'student {cfg.student} ({cfg.objective}, {cfg.epochs} epochs)')
        bar, update = epoch_progress_bar(cfg.epochs, f'{spec.name} seed {seed} student', 0,
                                    progress)
        try:
            rec, emb, distiller = distill_seed(data, spec.name, spec.protocol, teacher,
                                               seed_cfg, setting, holdout, ckpt, update)
        finally:
            bar.close()
        atomic_torch_save(emb, out / 'embeddings' / f'seed{seed}.pt')
        _finish_seed(out, identity, done, rec, distiller, ckpt)
        log(f"seed {seed}: student {rec['student_accuracy']:.4f} (val "
            f"{rec['student_val_accuracy']:.4f}), teacher {rec['teacher_accuracy']:.4f}")
    keys = [str(cfg.seed + i) for i in range(seeds)]
    recs = [done[k] for k in keys]
    result = {'dataset': spec.name, 'protocol': spec.protocol, 'setting': setting,
              'teacher': str(teacher), 'seeds': [int(k) for k in keys],
              'probe': 'logistic regression on standardised frozen embeddings, C on val',
              **_summaries(recs, (
                  'student_accuracy', 'student_val_accuracy', 'teacher_accuracy',
                  'teacher_val_accuracy', 'student_seconds', 'teacher_seconds',
                  'student_inference_seconds', 'teacher_inference_seconds')
              + (('student_head_accuracy', 'student_head_val_accuracy')
                 if cfg.objective == 'glnn' else ()))}
    return _write_result(out, result, recs, cfg, command)


def _write_result(out: Path, result: Dict, recs, cfg: DistillConfig, command: str) -> Dict:
    """``result`` with the per-seed records and the run's conditions, written to
    ``out/result.json``."""
    result.update(per_seed=recs, config=cfg.to_dict(), command=command,
                  peak_rss_mb=peak_rss_mb(), threads=torch.get_num_threads(),
                  versions=library_versions())
    atomic_write_json(out / 'result.json', result)
    return result


def _open_run(out: Path, identity: Dict, resume: bool, cfg: DistillConfig) -> Dict[str, Dict]:
    """The finished seeds of the run in ``out`` (``progress.json``), after checking that it
    is this run; a run there without ``resume``, or another run, is an error and nothing is
    changed. Writes ``config.yaml``."""
    prog = out / 'progress.json'
    done: Dict[str, Dict] = {}
    if prog.exists() or (out / 'result.json').exists():
        if not resume:
            raise FileExistsError(f'{out} already holds a distill run; pass --resume to '
                                  'continue it or choose another --out (nothing was changed)')
        if prog.exists():
            state = read_json_object(prog)
            if state.get('run') != identity:
                theirs = state.get('run') or {}
                diff = [k for k in identity if theirs.get(k) != identity[k]]
                raise ValueError(f'{out} holds a different distill run (differs in '
                                 f"{', '.join(diff)}); choose another --out")
            done = dict(state.get('seeds', {}))
    ensure_writable_dir(out)
    atomic_write_text(out / 'config.yaml', cfg.to_yaml())
    return done


def _pending_seeds(cfg: DistillConfig, seeds: int, done: Dict, out: Path,
                   log: Callable[[str], None]):
    """``(seed, its config, its checkpoint path)`` for each seed not yet in ``done``."""
    for i in range(seeds):
        seed = cfg.seed + i
        if str(seed) in done:
            log(f'seed {seed}: already finished, skipping')
            continue
        yield (seed, DistillConfig.from_dict({'seed': seed}, base=cfg),
               out / 'checkpoints' / f'seed{seed}.pt')


def _finish_seed(out: Path, identity: Dict, done: Dict[str, Dict], rec: Dict,
                 distiller: GenURLDistiller, ckpt: Path) -> None:
    """Records a finished seed: its student's weights (and with ``bank_k`` the teacher
    bank beside them, ``students/seed<i>_bank.pt``, :meth:`TeacherBank.from_state_dict`;
    with objective ``glnn`` its class head, ``students/seed<i>_head.pt``, the state of a
    ``Linear(out_channels, classes)``),
    its record in ``progress.json`` (what ``--resume`` skips), and its checkpoint removed."""
    atomic_torch_save(distiller.student.state_dict(),
                      out / 'students' / f"seed{rec['seed']}.pt")
    if distiller.bank is not None:
        atomic_torch_save(distiller.bank.state_dict(),
                          out / 'students' / f"seed{rec['seed']}_bank.pt")
    if distiller.cfg.objective == 'glnn':  # the class head the reference was trained with
        atomic_torch_save(distiller.objective.head.state_dict(),
                          out / 'students' / f"seed{rec['seed']}_head.pt")
    done[str(rec['seed'])] = rec
    atomic_write_json(out / 'progress.json', {'run': identity, 'seeds': done})
    if ckpt.exists():
        ckpt.unlink()


def _summaries(recs, names) -> Dict:
    """Mean, std, ... over the seeds of each per-seed measure (``None`` where none has it)."""
    def stat(name):
        vals = [r[name] for r in recs if r.get(name) is not None]
        return summarize(vals) if vals else None
    return {name: stat(name) for name in names}


def image_scores(train_f: Tensor, test_f: Tensor, train_y: Tensor, test_y: Tensor,
                  seed: int) -> Dict[str, float]:
    """The vision task's two probes on frozen features: weighted kNN (k 200, T 0.1) and the
    logistic-regression probe (C on a tenth of the training images)."""
    from ..evaluation.image import image_linear_probe, knn_accuracy
    probe = image_linear_probe(train_f, train_y, test_f, test_y, seed=seed)
    return {'knn': knn_accuracy(train_f, train_y, test_f, test_y, k=200, temperature=0.1),
            'linear': probe.test_accuracy}


def distill_images_job(dataset: str, teacher: str, cfg: DistillConfig, seeds: int, out: Path,
                       root: Optional[str] = None, subset: int = 0,
                       teacher_backbone: Optional[str] = None, resume: bool = False,
                       progress: bool = True, command: str = '',
                       log: Callable[[str], None] = print) -> Dict:
    """``genurl-pyg distill`` on an image set: ``teacher`` (a ``genurl-pyg ssl`` run folder,
    or a ``state_dict`` file with ``teacher_backbone``) into ``cfg``'s student (``cnn``) on
    the training images (the first ``subset`` of a fixed class-mixed order when given), for
    ``seeds`` seeds. Teacher and student are scored by the same kNN monitor and linear probe
    on the test images; writes ``out/`` like the graph job (``result.json``,
    ``progress.json`` for ``--resume``, ``students/``, ``checkpoints/``)."""
    from ..vision.data import load_images
    from .image import distill_image_embeddings, load_image_teacher
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f'--seeds must be an integer >= 1, got {seeds!r}')
    if cfg.objective == 'glnn':
        raise ValueError("objective 'glnn' (the supervised reference) is read on graphs, where "
                         "the teacher's class logits come from the node probe; the image job "
                         'scores label-free objectives only')
    if not Path(teacher).exists():
        raise FileNotFoundError(f"--teacher {teacher!r} does not exist (a `genurl-pyg ssl` "
                                'run folder, or a state_dict file with --teacher-backbone)')
    images = load_images(dataset, root)
    train_x, train_y = images.train_x, images.train_y
    if subset:
        from ..bench.tasks.ssl import subset_rows
        train_x, train_y = subset_rows(train_x, train_y, subset)
    identity = {'dataset': images.name, 'teacher': str(teacher), 'subset': int(subset),
                'teacher_backbone': teacher_backbone, 'config': cfg.to_dict()}
    out = Path(out)
    done = _open_run(out, identity, resume, cfg)
    from ..utils.devices import resolve_device
    module = load_image_teacher(teacher, train_x.size(1), teacher_backbone).to(
        resolve_device(cfg.device))  # the teacher pass runs where the students train
    from .distiller import teacher_embeddings
    from .image import image_views
    normalize = image_views(train_x).normalize
    start = time.perf_counter()
    t_train = teacher_embeddings(module, train_x, transform=normalize)
    teacher_s = time.perf_counter() - start
    t_test, teacher_infer_s = _timed(
        lambda: teacher_embeddings(module, images.test_x, transform=normalize))
    teacher_scores = image_scores(t_train, t_test, train_y, images.test_y, cfg.seed)
    log(f'{images.name}: {train_x.size(0)} training images; teacher kNN '
        f"{100 * teacher_scores['knn']:.2f} %, linear {100 * teacher_scores['linear']:.2f} %")
    for seed, seed_cfg, ckpt in _pending_seeds(cfg, seeds, done, out, log):
        bar, update = epoch_progress_bar(cfg.epochs, f'{images.name} seed {seed} student', 0,
                                         progress)
        try:
            # teacher_views: the module runs on every step's view; else its static features
            distiller = distill_image_embeddings(
                train_x, module if seed_cfg.teacher_views else t_train, seed_cfg,
                progress=update, checkpoint=ckpt)
        finally:
            bar.close()
        s_train = distiller.embed(train_x)
        s_test, student_infer_s = _timed(lambda: distiller.embed(images.test_x))
        scores = image_scores(s_train, s_test, train_y, images.test_y, seed)
        rec = {'seed': seed, 'student_knn': scores['knn'], 'student_linear': scores['linear'],
               'teacher_knn': teacher_scores['knn'], 'teacher_linear': teacher_scores['linear'],
               'student_seconds': distiller.elapsed_seconds, 'teacher_seconds': teacher_s,
               'student_inference_seconds': student_infer_s,
               'teacher_inference_seconds': teacher_infer_s,
               'final_loss': distiller.state.losses[-1],
               'train_images': int(train_x.size(0)), 'test_images': int(images.test_x.size(0))}
        _finish_seed(out, identity, done, rec, distiller, ckpt)
        log(f"seed {seed}: student kNN {100 * rec['student_knn']:.2f} %, linear "
            f"{100 * rec['student_linear']:.2f} % (teacher {100 * rec['teacher_knn']:.2f} / "
            f"{100 * rec['teacher_linear']:.2f} %)")
    recs = [done[str(cfg.seed + i)] for i in range(seeds)]
    result = {'dataset': images.name, 'note': images.note, 'teacher': str(teacher),
              'teacher_backbone': teacher_backbone, 'train_images': int(train_x.size(0)),
              'seeds': [r['seed'] for r in recs],
              'probes': 'weighted kNN (k 200, T 0.1) and logistic regression (C on a tenth '
                        'of the training images) on frozen features of the test images',
              **_summaries(recs, ('student_knn', 'student_linear', 'teacher_knn',
                                  'teacher_linear', 'student_seconds', 'teacher_seconds',
                                  'student_inference_seconds', 'teacher_inference_seconds'))}
    return _write_result(out, result, recs, cfg, command)
