r"""Link-prediction evaluation of frozen node embeddings (OGB's ``ogb-link`` protocol).

A pair :math:`(i, j)` is scored from the frozen, standardised embeddings either by
``'dot'``: :math:`s_{ij} = \langle h_i, h_j\rangle / d` (nothing trained), or by ``'mlp'``:
an MLP on :math:`h_i \odot h_j` trained with binary cross-entropy on the training edges
against uniformly random node pairs (OGB's reference link predictor, on frozen inputs). The
epoch is chosen by the validation metric only; the test edges are scored once.

The metric is OGB's: Hits@K, the fraction of positive test edges scored above the K-th
highest negative edge, computed by the official ``ogb.linkproppred.Evaluator`` when ogb is
installed (``hits_at_k`` is the same formula, used without it and in the tests).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch
from torch import Tensor

from .._validation import all_finite

PREDICTORS = ('mlp', 'dot')

#: OGB's reference link predictor for ogbl-ddi (``examples/linkproppred/ddi/mlp.py``): three
#: linear layers of width 256 on h_i * h_j with ReLU and dropout 0.5, Adam at lr 0.01, 200
#: epochs of batches of 65,536 training edges, negatives that are not edges of the graph.
#: The OGB leaderboard's node2vec row (23.26 % test Hits@20) was read with it.
OGB_DDI_PROBE = dict(layers=3, hidden=256, dropout=0.5, lr=0.01, epochs=200,
                     batch_size=65536, exclude_train=True, cap_hidden=False)
#: The MLP probes by name: ``'default'`` (the caller's short settings) and ``'ogb'``.
LINK_PROBES = ('default', 'ogb')


def probe_kwargs(probe: str, short: Dict, epochs: Optional[int] = None,
                 batch_size: Optional[int] = None, what: str = "the link probe") -> Dict:
    """:func:`link_probe` keyword arguments of the named MLP probe: ``'ogb'`` is
    :data:`OGB_DDI_PROBE`, ``'default'`` the caller's ``short`` settings; ``epochs`` and
    ``batch_size`` override either when given. ``what`` names the setting in the error."""
    if probe not in LINK_PROBES:
        raise ValueError(f"{what} must be 'default' or 'ogb', got {probe!r}")
    kw = dict(OGB_DDI_PROBE) if probe == 'ogb' else dict(short)
    if epochs is not None:
        kw['epochs'] = int(epochs)
    if batch_size is not None:
        kw['batch_size'] = int(batch_size)
    return kw


@dataclass
class LinkProbeResult:
    test: float
    val: float
    metric: str
    predictor: str
    epoch: int
    also: Dict[str, float] = field(default_factory=dict)  # other metrics, same epoch
    also_val: Dict[str, float] = field(default_factory=dict)  # the same on validation
    curve: List[float] = field(default_factory=list)  # the validation metric per epoch


def hits_at_k(pos: Tensor, neg: Tensor, k: int) -> float:
    """Fraction of ``pos`` scores strictly above the ``k``-th largest ``neg`` score."""
    if neg.numel() < k:
        return 1.0
    kth = torch.topk(neg.flatten(), k).values[-1]
    return float((pos.flatten() > kth).float().mean())


def hits_metric(k: int) -> Callable[[Tensor, Tensor], float]:
    """``metric(pos, neg)`` = :func:`hits_at_k` at ``k``, named ``'hits@k'``
    (``metric_name``, as :func:`auc_score` and :func:`ogb_link_metric` carry theirs)."""
    def score(pos: Tensor, neg: Tensor) -> float:
        return hits_at_k(pos, neg, k)
    score.metric_name = f'hits@{k}'
    return score


def ogb_link_metric(name: str) -> Optional[Callable[[Tensor, Tensor], float]]:
    """OGB's official scorer for link data set ``name`` (e.g. ogbl-ddi: Hits@20), or None
    when ogb is not installed."""
    try:
        from ogb.linkproppred import Evaluator
    except ImportError:
        return None
    evaluator = Evaluator(name)
    key = evaluator.eval_metric

    def score(pos: Tensor, neg: Tensor) -> float:
        return float(evaluator.eval({'y_pred_pos': pos.flatten(),
                                     'y_pred_neg': neg.flatten()})[key])
    score.metric_name = key
    return score


def _check_pairs(pairs: Tensor, name: str, num_nodes: int) -> None:
    if pairs.dim() != 2 or pairs.size(1) != 2:
        raise ValueError(f"'{name}' must be an [E, 2] tensor of node pairs, "
                         f"got shape {tuple(pairs.shape)}")
    if pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= num_nodes):
        raise ValueError(f"'{name}' holds node ids outside [0, {num_nodes})")


def link_probe(embeddings: Tensor, train_pos: Tensor, val_pos: Tensor, val_neg: Tensor,
               test_pos: Tensor, test_neg: Tensor, k: int = 20,
               metric: Optional[Callable[[Tensor, Tensor], float]] = None,
               predictor: str = 'mlp', epochs: int = 10, batch_size: int = 65536,
               lr: float = 1e-3, seed: int = 0, hidden: int = 256,
               also: Optional[Dict[str, Callable[[Tensor, Tensor], float]]] = None,
               layers: int = 2, dropout: float = 0.0, exclude_train: bool = False,
               cap_hidden: bool = True) -> LinkProbeResult:
    """Scores frozen embeddings by link prediction; returns validation and test Hits@K.

    Args:
        embeddings (Tensor): ``[N, d]``.
        train_pos, val_pos, val_neg, test_pos, test_neg (Tensor): ``[E, 2]`` node pairs.
        k (int): the K of Hits@K when ``metric`` is None.
        metric (callable, optional): ``metric(pos_scores, neg_scores) -> float``, e.g.
            :func:`ogb_link_metric` ``('ogbl-ddi')``.
        predictor (str): ``'mlp'`` or ``'dot'``.
        hidden (int): the MLP's hidden width (256, OGB's link predictors' width), capped at
            ``d`` when ``cap_hidden`` (the default probe's rule; OGB's predictor keeps 256
            for any ``d``, so two embeddings of different widths get the same probe).
        also (dict, optional): more ``name -> metric(pos, neg)`` scored on the test pairs
            (``.also``) and the validation pairs (``.also_val``) of the epoch that
            ``metric`` chose on validation (one probe, several scores).
        layers (int): the MLP's linear layers (2: one hidden layer; OGB's ddi predictor: 3).
        dropout (float): dropout after each hidden ReLU while training (OGB's ddi: 0.5).
        exclude_train (bool): redraw a sampled negative pair while it is a training edge
            (either direction) or a self-pair, as OGB's dense negative sampling does; on a
            dense graph such as ogbl-ddi (12 % of all pairs are edges) uniform pairs would
            otherwise label one negative in eight wrongly. At most 10 redraws per batch.
            :data:`OGB_DDI_PROBE` holds OGB's ddi settings for these arguments.

    Complexity: ``'mlp'``: O(epochs · E_train · (d · hidden + (layers - 2) · hidden²)),
    plus O(E_train log E_train) once for ``exclude_train``; ``'dot'``: O(E · d).
    """
    if predictor not in PREDICTORS:
        raise ValueError(f"'predictor' must be one of {PREDICTORS}, got {predictor!r}")
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
        raise ValueError(f"'layers' must be an integer >= 1, got {layers!r}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"'dropout' must be in [0, 1), got {dropout!r}")
    h = embeddings.detach().float().cpu()
    if h.dim() != 2 or not all_finite(h):
        raise ValueError("'embeddings' must be a finite [N, d] tensor")
    n = h.size(0)
    for name, pairs in (('train_pos', train_pos), ('val_pos', val_pos), ('val_neg', val_neg),
                        ('test_pos', test_pos), ('test_neg', test_neg)):
        _check_pairs(pairs, name, n)
    score_fn = metric or hits_metric(k)
    name = getattr(score_fn, 'metric_name', 'custom')
    h = (h - h.mean(0)) / (h.std(0) + 1e-8)

    also = dict(also or {})

    def with_also(pos: Tensor, neg: Tensor):
        return score_fn(pos, neg), {k: float(f(pos, neg)) for k, f in also.items()}

    if predictor == 'dot':
        def dot(pairs):
            return (h[pairs[:, 0]] * h[pairs[:, 1]]).sum(1) / h.size(1)
        test, extra = with_also(dot(test_pos), dot(test_neg))
        val, extra_val = with_also(dot(val_pos), dot(val_neg))
        return LinkProbeResult(test, val, name, predictor, 0, extra, extra_val)

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    d = h.size(1)
    width = max(1, min(int(hidden), d) if cap_hidden else int(hidden))
    mlp = _hadamard_mlp(d, width, layers, float(dropout))
    opt = torch.optim.Adam(mlp.parameters(), lr=lr)
    draw_negatives = _negative_sampler(train_pos, n, gen, exclude_train)

    @torch.no_grad()
    def scores(pairs):
        return torch.cat([_pair_logits(mlp, h, b) for b in pairs.split(batch_size)])

    best, curve = (-1.0, (0.0, {}), 0, {}), []
    for epoch in range(1, epochs + 1):
        mlp.train()
        for idx in torch.randperm(train_pos.size(0), generator=gen).split(batch_size):
            pos = train_pos[idx]
            _train_step(mlp, opt, h, pos, draw_negatives(pos.shape))
        mlp.eval()
        val, extra_val = with_also(scores(val_pos), scores(val_neg))
        curve.append(float(val))
        if val > best[0]:  # test is scored only for the epoch that validation picks
            best = (val, with_also(scores(test_pos), scores(test_neg)), epoch, extra_val)
    return LinkProbeResult(best[1][0], best[0], name, predictor, best[2], best[1][1], best[3],
                           curve)


def link_probe_seconds(num_nodes: int, num_train_edges: int, num_eval_pairs: int, d: int,
                       epochs: int = 10, batch_size: int = 65536, hidden: int = 256,
                       layers: int = 2, dropout: float = 0.0, cap_hidden: bool = True,
                       lr: float = 1e-3, steps: int = 3, **_unused) -> float:
    """The wall time, on this machine and thread count, that :func:`link_probe` with
    ``predictor='mlp'`` and these settings will take on ``num_train_edges`` training edges
    and ``num_eval_pairs`` validation plus test pairs of ``d``-wide embeddings.

    Measured, not modelled: one warm-up and ``steps`` timed training steps (a batch of
    positives and as many negatives, gathered from an ``[num_nodes, d]`` table) and scoring
    passes of the same MLP on random inputs, then :func:`probe_seconds_from_steps`. It
    counts the test pairs as scored every epoch (the probe scores them only when
    validation improves); three timed steps stand for thousands, so it is an estimate, not
    a bound: the probe took 0.73-0.99x of it on Cora, CiteSeer and Photo
    (``experiments/results/link_probe_reserve.md``), and callers that must not run over
    add a margin (the suite's link cell: 1.3x plus 30 s). ``_unused`` takes
    :func:`link_probe`'s other keywords (``exclude_train``, ...), so
    ``**probe_kwargs(...)`` can be passed as is.
    Cost: ``steps + 1`` training steps, about ``(steps + 1) / (epochs · E / batch)`` of the
    probe itself.
    """
    import time
    if d < 1 or num_nodes < 1 or steps < 1 or batch_size < 1:
        raise ValueError(f"'d', 'num_nodes', 'steps' and 'batch_size' must be >= 1, got {d}, "
                         f"{num_nodes}, {steps}, {batch_size}")
    gen = torch.Generator().manual_seed(0)
    width = max(1, min(int(hidden), d) if cap_hidden else int(hidden))
    with torch.random.fork_rng(devices=[]):  # the caller's seeded training must not shift
        mlp = _hadamard_mlp(d, width, layers, float(dropout))
    opt = torch.optim.Adam(mlp.parameters(), lr=lr)
    h = torch.randn(num_nodes, d, generator=gen)
    rows = max(1, min(int(batch_size), int(num_train_edges)))
    pos, neg = torch.randint(0, num_nodes, (2 * rows, 2), generator=gen).split(rows)
    step_s, score_s = [], []
    for _ in range(steps + 1):  # the probe's own step and scoring pass, timed
        t = time.perf_counter()
        _train_step(mlp, opt, h, pos, neg)
        step_s.append(time.perf_counter() - t)
        with torch.no_grad():
            t = time.perf_counter()
            _pair_logits(mlp, h, pos)
            score_s.append(time.perf_counter() - t)
    step = sorted(step_s[1:])[steps // 2]  # the median after the warm-up
    score = sorted(score_s[1:])[steps // 2]
    return probe_seconds_from_steps(step, score, num_train_edges, num_eval_pairs, epochs,
                                    batch_size)


def probe_seconds_from_steps(step_s: float, score_s: float, num_train_edges: int,
                             num_eval_pairs: int, epochs: int, batch_size: int) -> float:
    """``epochs · (⌈E / batch⌉ · step_s + ⌈pairs / batch⌉ · score_s)``: the MLP probe's
    time from one training step's (``batch`` positives plus as many negatives) and one
    scoring pass's (``batch`` pairs) seconds, every batch counted as a full one."""
    batches = -(-int(num_train_edges) // int(batch_size))
    scoring = -(-int(num_eval_pairs) // int(batch_size))
    return float(epochs) * (batches * step_s + scoring * score_s)


def _pair_logits(mlp: torch.nn.Module, h: Tensor, pairs: Tensor) -> Tensor:
    """The MLP's logit of each node pair ``(i, j)``: ``mlp(h_i * h_j)``, shape ``[P]``."""
    return mlp(h[pairs[:, 0]] * h[pairs[:, 1]]).squeeze(1)


def _train_step(mlp: torch.nn.Module, opt: torch.optim.Optimizer, h: Tensor, pos: Tensor,
                neg: Tensor) -> None:
    """One binary cross-entropy step on ``pos`` pairs (label 1) against ``neg`` pairs (0):
    the step :func:`link_probe` trains with and :func:`link_probe_seconds` times."""
    logits = _pair_logits(mlp, h, torch.cat([pos, neg]))
    target = torch.cat([torch.ones(pos.size(0)), torch.zeros(neg.size(0))])
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    opt.zero_grad()
    loss.backward()
    opt.step()


def _hadamard_mlp(d: int, width: int, layers: int, dropout: float) -> torch.nn.Sequential:
    """``layers`` linear maps d -> width -> ... -> 1, ReLU (and dropout) between them."""
    sizes = [d] + [width] * (layers - 1) + [1]
    mods = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(torch.nn.Linear(a, b))
        if i < layers - 1:
            mods.append(torch.nn.ReLU())
            if dropout > 0:
                mods.append(torch.nn.Dropout(dropout))
    return torch.nn.Sequential(*mods)


def _negative_sampler(train_pos: Tensor, n: int, gen: torch.Generator, exclude: bool):
    """``draw(shape)``: uniform node pairs; with ``exclude``, pairs that are training edges
    (either direction) or self-pairs are redrawn (up to 10 rounds; the few left are kept).
    Membership by binary search in the sorted pair keys i * n + j: O(log E) per pair."""
    if not exclude:
        return lambda shape: torch.randint(0, n, shape, generator=gen)
    a, b = train_pos[:, 0].long(), train_pos[:, 1].long()
    keys = torch.unique(torch.cat([a * n + b, b * n + a]))

    def is_edge(pairs: Tensor) -> Tensor:
        k = pairs[:, 0] * n + pairs[:, 1]
        found = keys[torch.searchsorted(keys, k).clamp(max=keys.numel() - 1)] == k
        return found | (pairs[:, 0] == pairs[:, 1])

    def draw(shape):
        pairs = torch.randint(0, n, shape, generator=gen)
        for _ in range(10):
            bad = is_edge(pairs).nonzero().flatten()
            if bad.numel() == 0:
                break
            pairs[bad] = torch.randint(0, n, (bad.numel(), 2), generator=gen)
        return pairs
    return draw


def auc_score(pos: Tensor, neg: Tensor) -> float:
    """Area under the ROC curve of positive against negative scores (ties count one half),
    by ranks: O((P + N) log(P + N)). Equal to scikit-learn's ``roc_auc_score``."""
    pos, neg = pos.detach().flatten().double().cpu(), neg.detach().flatten().double().cpu()
    if pos.numel() == 0 or neg.numel() == 0:
        raise ValueError('AUC needs at least one positive and one negative score')
    scores = torch.cat([pos, neg])
    order = torch.argsort(scores)
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, scores.numel() + 1, dtype=torch.float64)
    # average ranks over ties
    uniq, inverse, counts = torch.unique(scores, return_inverse=True, return_counts=True)
    sums = torch.zeros(uniq.numel(), dtype=torch.float64).index_add_(0, inverse, ranks)
    ranks = (sums / counts)[inverse]
    p = pos.numel()
    return float((ranks[:p].sum() - p * (p + 1) / 2) / (p * neg.numel()))


auc_score.metric_name = 'auc'


@dataclass
class LinkSplit:
    """Held-out edges of an undirected graph. ``train_data`` is the graph the embedding
    method may see: the training edges only (both directions), features and labels."""
    train_data: object
    train_pos: Tensor
    val_pos: Tensor
    val_neg: Tensor
    test_pos: Tensor
    test_neg: Tensor


def random_link_split(data, val: float = 0.05, test: float = 0.1, seed: int = 0) -> LinkSplit:
    """PyG's ``RandomLinkSplit`` (undirected; one sampled negative pair per held-out edge)
    under a fixed seed, with the leak check: no validation or test edge, in either
    direction, is in ``train_data.edge_index`` (raises ``RuntimeError`` otherwise).
    Pairs are ``[E, 2]``. O(E log E)."""
    import random

    import numpy as np
    from torch_geometric.transforms import RandomLinkSplit
    if not (0 < val < 1 and 0 < test < 1 and val + test < 1):
        raise ValueError(f"'val' and 'test' must be in (0, 1) with val + test < 1, got "
                         f'{val} and {test}')
    if data.edge_index is None or data.edge_index.numel() == 0:
        raise ValueError('link prediction needs a graph with edges')
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed)
        try:
            split = RandomLinkSplit(num_val=val, num_test=test, is_undirected=True,
                                    split_labels=True, add_negative_train_samples=False)
            tr, va, te = split(data.clone())
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
    train_data = tr.clone()
    for key in ('pos_edge_label', 'pos_edge_label_index', 'neg_edge_label',
                'neg_edge_label_index'):
        if key in train_data:
            del train_data[key]
    out = LinkSplit(train_data, tr.pos_edge_label_index.t().contiguous(),
                    va.pos_edge_label_index.t().contiguous(),
                    va.neg_edge_label_index.t().contiguous(),
                    te.pos_edge_label_index.t().contiguous(),
                    te.neg_edge_label_index.t().contiguous())
    check_no_leak(out)
    return out


def check_no_leak(split: LinkSplit) -> None:
    """Raises ``RuntimeError`` when a validation or test edge (either direction) is among
    the edges of ``split.train_data``."""
    n = int(split.train_data.num_nodes)
    ei = split.train_data.edge_index
    seen = set((ei[0] * n + ei[1]).tolist())
    for name in ('val_pos', 'test_pos'):
        pairs = getattr(split, name)
        both = torch.cat([pairs[:, 0] * n + pairs[:, 1], pairs[:, 1] * n + pairs[:, 0]])
        if any(v in seen for v in both.tolist()):
            raise RuntimeError(f'link split leaks: an edge of {name} is in the training graph')
