"""GenURL dimension reduction with a scikit-learn interface: parametric (an MLP encoder) or
non-parametric (the coordinates optimised directly, :mod:`genurl_pyg.manifold.layout`)."""
from __future__ import annotations

import math
import sys
import time
import warnings
from typing import Optional, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import all_finite
from ..nn import functional as F
from ..structure.builder import SimilarityBuilder
from ..structure.calibration import calibrate, calibrated_weights
from ..structure.hubness import check_neighbor_scaling
from .._optional import is_available
from ..structure import knn
from ..structure.knn import _knn_exact, knn_graph
from . import layout as L


_SPARSE = ('csr', 'csc', 'coo')
# Below this many points P's exact kNN search takes seconds on a CPU; above it 'auto' tries
# the recall-checked HNSW index first.
CHECKED_KNN_MIN_N = 20_000
_DTYPES = (np.float64, np.float32)


def _as_numpy(X):
    """Torch tensors (any device) become numpy arrays; everything else is left to
    scikit-learn's validation."""
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    return X


def _dense_tensor(X) -> torch.Tensor:
    """A validated array (dense or scipy sparse) as a dense float32 CPU tensor."""
    if hasattr(X, 'toarray'):
        X = X.toarray()
    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))


class GenURLEmbedding(TransformerMixin, BaseEstimator):
    r"""GenURL dimension reduction: an embedding whose Student-t similarity :math:`Q`
    matches a calibrated kNN similarity :math:`P` of the data.

    The data structural modeling is the same code as for graphs
    (:class:`~genurl_pyg.structure.SimilarityBuilder` with the kNN graph alone). Two paths:
    free coordinates (``parametric=False``, the default: the highest T(10) of the MLP and
    the peers on every benchmark set, and faster than UMAP from 10k points up,
    ``experiments/results/dr_benchmark_default_s17.md``), and an MLP encoder
    (``parametric=True``), whose :meth:`transform` embeds new points with one forward pass.

    The parametric path: each training step draws ``batch_size`` positive pairs from
    :math:`P`'s support and ``negative_rate`` times as many uniform pairs, and minimises the
    unbiased sampled estimate of the all-pairs loss (:func:`~genurl_pyg.nn.functional.sampled_pairs_loss`).
    Views: with ``mixup > 0`` every input is replaced by a random point on the segment to
    one of its kNN (neighbour mix-up), a data augmentation that keeps :math:`P`'s meaning.

    With ``parametric=False`` there is no network: the ``[N, n_components]`` coordinates
    are optimised directly (:func:`~genurl_pyg.manifold.layout.optimize_layout`: all of
    :math:`P`'s pairs attract; in 2-D every pair repels, its sum interpolated on a grid and
    optimised with t-SNE's momentum and gains, O(N·r + G² log G) per iteration; in other
    dimensions a shared block of ``negative_rate`` uniform points repels every point,
    O(N·(r + m)·d); see ``repulsion``), from a PCA initialisation, with early
    exaggeration. Its default loss ``'kl'`` normalises :math:`Q` over all pairs as t-SNE
    does. :meth:`transform` then places each new point at the
    calibrated-weight mean of its ``n_neighbors`` nearest training points' coordinates
    (openTSNE's placement; exact search in the rank-``reduce_dim`` space P's kNN was
    searched in, O(M·N·r)); a point equal to a training point gets that point's
    coordinates.

    Args:
        n_components (int): embedding dimension.
        n_neighbors (int): :math:`k` of the kNN graph.
        perplexity (float, optional): build :math:`P` as t-SNE does instead (Gaussian rows
            of entropy log(perplexity) on the floor(3 perplexity) nearest neighbours,
            symmetrised: :func:`~genurl_pyg.structure.perplexity.perplexity_similarity`;
            ours, not the paper's); ``n_neighbors``, ``feature_hops`` and ``nu_input`` then
            do not shape :math:`P`. Clipped to (n_samples - 1) / 3 with a warning, as
            openTSNE does. ``None``: GenURL's calibrated geodesic kNN similarity.
        wide_neighbors (int, 'auto' or None): :math:`P` over two neighbourhood scales,
            :math:`(1-\beta) P_k + \beta \hat P_K` with :math:`k` = ``n_neighbors`` and
            :math:`K` = ``wide_neighbors``, from one :math:`K`-NN search
            (:func:`~genurl_pyg.structure.two_scale.two_scale_similarity`; ours, not the
            paper's): the wide part adds the class-level pull of t-SNE's wider perplexity
            neighbourhoods while :math:`P_k` keeps the local ones. One hop only.
            ``'auto'``: ``3 * n_neighbors`` on the non-parametric path with the calibrated
            one-hop :math:`P`, else one scale. Default ``None`` (one scale, the paper's):
            the first two tuning sets gained 5-NN (+0.6 / +0.14 points at the same T(10)
            and time), but fresh subsets and the benchmark did not (−0.2 to +0.1;
            ``dr_layout_tuning.md`` session 17), and at 70k points the wider search
            raised peak memory by about 460 MB.
        wide_weight (float): :math:`\beta` in [0, 1].
        wide_share (float): share in (0, 1] of the wide-only pairs kept, their weights
            divided by it (unbiased; the thinned pairs are drawn once, from
            ``random_state``): 0.15 keeps the pairs each layout iteration visits within
            about 1.3x of the one-scale :math:`P`'s (on the tuning sets it kept the full
            mixture's 5-NN).
        neighbor_scaling (str, optional): ``'local'``: choose each point's
            ``n_neighbors`` neighbours in :math:`P` by the locally scaled distance
            :math:`d_{ij}/\sqrt{s_i s_j}` (:math:`s_i`: distance to the
            ``n_neighbors``-th neighbour) among its 3 · ``n_neighbors`` nearest
            (:func:`~genurl_pyg.structure.hubness.local_scaling_knn`; ours, not the paper's).
            It removes edges to hubs, the points that high-dimensional kNN graphs make
            everyone's neighbour. ``'auto'`` (default): ``'local'`` on the non-parametric
            path with one scale (no ``perplexity``, no ``wide_neighbors``), where it was
            measured: on the DR tuning sets (``dr_layout_tuning.md``, session 18) T(10) rose
            on every subset and 5-NN on six of seven; on the benchmark 5-NN MNIST 0.9573 /
            Fashion-10k 0.7996 / Fashion-70k 0.8443 against 0.9510 / 0.7956 / 0.8378 with
            the plain kNN, Coauthor-CS 0.8868 against 0.8884, T(10) never lower, Fashion-70k
            fitted in 52 s against 53 s (``dr_benchmark_local_scaling.md``,
            ``dr_benchmark_large_ls.md``); ``None``
            elsewhere (the parametric path has not been measured with it). On the
            bag-of-words features of DBLP and Amazon Photo (tuning sets, session 19) it
            lowered 5-NN by 0.25-0.7 points, as on Coauthor-CS: try ``None`` on such data
            (``dr_layout_tuning.md`` session 19). ``None``: the
            plain kNN (the paper's). ``'local'`` cannot be combined with ``perplexity`` or
            ``wide_neighbors``. The value used is ``neighbor_scaling_``.
        metric (str): ``'euclidean'`` or ``'cosine'``.
        feature_hops (int or 'auto'): geodesic hop limit on the kNN graph; ``'auto'``: 2
            (parametric), 1 (non-parametric: same T(10) with a third of the pairs on the
            tuning set).
        nu_input (float): input-side Student-t degrees of freedom.
        nu_latent (float or 'auto'): embedding-side degrees of freedom (small: heavier
            tails). ``'auto'``: 0.1 (parametric: on MNIST-10k at 30 epochs, T(10) was 0.916
            for 1.0, 0.956 for 0.1 and 0.935 for 0.01), 0.3 (non-parametric, tuning set).
        loss (str): ``'auto'`` (``'gkl'`` parametric, ``'kl'`` non-parametric), an
            elementwise variant ``'gkl'``, ``'fuzzy_ce'``, ``'l1'``, ``'mse'``, or ``'kl'``
            (non-parametric only: Q normalised over all pairs).
        alpha (float): GKL's :math:`|P - Q|` weight.
        hidden_layer_sizes (tuple): MLP hidden widths.
        n_epochs (int or 'auto'): passes over :math:`P`'s support (MNIST-10k T(10): 0.916
            after 30 epochs, 0.961 after 100, at nu_latent = 1); non-parametric: one pass is
            one iteration. ``'auto'``: 50 (parametric), 1500 (non-parametric; 750, t-SNE's
            count, with ``repulsion='fft'``).
        batch_size (int or 'auto'): positive pairs per step; ``'auto'``: enough for 16 steps
            per epoch (at least 4096), so the number of steps does not grow with N.
        negative_rate (int or 'auto'): uniform pairs per positive pair (parametric) or
            negatives per point and iteration (non-parametric: the repulsion's sample, whose
            variance limited the layout): independent pairs (``repulsion='pairs'``) or the
            size of the block shared by all points (``'block'``); unused by ``'fft'``.
            ``'auto'``: 5 (parametric), 15 (pairs: T(10) on the tuning set 0.9891 / 0.9902
            / 0.9901 / 0.9905 for 5 / 15 / 20 / 30, fit time x1.0 / 1.17 / 1.28 / 1.79),
            else 128 (the block).
        repulsion (str): non-parametric ``'kl'`` only: how the partition function is
            computed (:func:`~genurl_pyg.manifold.layout.optimize_layout`). ``'fft'`` (2-D
            only): over all pairs, interpolated on a grid (FIt-SNE's scheme), and optimised
            with t-SNE's momentum and gains instead of Adam, which a sampled repulsion's
            noise defeats; ``'block'``: every point against one shared block of
            ``negative_rate`` uniform points per iteration (a dense ``[N, m]`` product, so
            a 128-point block costs about what 15 gathered pairs cost); ``'pairs'``:
            independent pairs per point. ``'auto'``: ``'fft'`` in 2-D (both tuning sets:
            T(10) 0.9914-0.9916 / 0.9399 against the block's 0.9906-0.9908 / 0.9340-0.9341,
            same 5-NN, 10-30 % less time; ``dr_layout_tuning.md``), ``'block'`` in other
            dimensions, ``'pairs'`` for the elementwise losses.
        learning_rate (float or 'auto'): Adam's step size, or with ``repulsion='fft'``
            t-SNE's; ``'auto'``: 1e-2 (parametric), 1.0 (non-parametric, in embedding
            units), ``max(N / early_exaggeration, 50) / 4`` (``'fft'``: openTSNE's rule in
            our units, whose gradient keeps t-SNE's factor 4; on Physics-15k T(10) 0.9399
            in 25 s, against 0.9375 in 230 s at openTSNE's full step, whose layout spreads
            to a 4x larger, costlier grid).
        mixup (float): neighbour mix-up strength in [0, 1) (0: no views).
        dynamic (bool): rebuild :math:`P` once, halfway, from the current embedding's
            encoder features (mixed 50/50 with the static :math:`P`).
        pca_components (int, optional): the MLP reads the top principal components (fitted
            in :meth:`fit`, reused by :meth:`transform`) of wider data: the first layer then
            costs O(N·pca·h) instead of O(N·D·h). :math:`P` is still built on the data
            itself (or on ``reduce_dim``). ``None``: the MLP reads the standardised data.
        reduce_dim (int, optional): build :math:`P` on a rank-``reduce_dim`` projection
            of wider data.
        parametric (bool): an MLP encoder (``True``) or free coordinates (``False``, the
            default: T(10) 0.991 against the MLP's 0.964 on MNIST-10k, in a third of the
            time; ``dr_benchmark_block.md``, ``dr_benchmark_default_s17.md``).
        early_exaggeration (float): non-parametric: the attraction's factor for the first
            ``exaggeration_iter`` iterations (t-SNE's 12).
        exaggeration_iter (int): non-parametric: iterations with exaggeration.
        knn_method (str): backend of P's kNN search
            (:func:`~genurl_pyg.structure.knn.knn_graph`). ``'auto'``: the exact search up
            to 20,000 points (or on a GPU), beyond it ``'faiss-checked'`` where faiss is
            installed: an HNSW index kept only if its recall@k, measured against the exact
            search on 256 points, reaches 0.95 (otherwise the exact search runs). On all of
            Fashion-MNIST (70k) the index's recall was 0.99 and P's build fell from 32 s to
            under 10 s (two threads). The recall measured is ``knn_recall_``.
        device (str): ``'cpu'`` or ``'cuda'``.
        verbose (bool): progress bar.
        random_state (int, optional): seed for reproducible results.

    Attributes:
        embedding_ (ndarray): embedding of the training data, ``[n_samples, n_components]``.
        knn_method_ (str): the kNN backend asked for (``'auto'`` resolved);
            ``knn_recall_`` (float or None): the HNSW graph's recall@k measured on 256
            points when it was ``'faiss-checked'`` (below 0.95 the exact search ran).
        n_features_in_ (int): number of features seen in :meth:`fit`.
        similarity_ (Similarity): the input similarity :math:`P` that was used.
    """

    def __init__(self, n_components: int = 2, n_neighbors: int = 15,
                 metric: str = 'euclidean', feature_hops='auto', nu_input: float = 100.0,
                 nu_latent='auto', loss: str = 'auto', alpha: float = 0.1,
                 hidden_layer_sizes: Sequence[int] = (256, 256), n_epochs='auto',
                 batch_size='auto', negative_rate='auto', learning_rate='auto',
                 mixup: float = 0.0, dynamic: bool = False, pca_components: Optional[int] = 64,
                 reduce_dim: Optional[int] = 256, parametric: bool = False,
                 early_exaggeration: float = 12.0, exaggeration_iter: int = 250,
                 device: str = 'cpu', verbose: bool = False,
                 random_state: Optional[int] = None,
                 perplexity: Optional[float] = None, repulsion: str = 'auto',
                 knn_method: str = 'auto', wide_neighbors=None, wide_weight: float = 0.2,
                 wide_share: float = 0.15, neighbor_scaling: Optional[str] = 'auto') -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.feature_hops = feature_hops
        self.nu_input = nu_input
        self.nu_latent = nu_latent
        self.loss = loss
        self.alpha = alpha
        self.hidden_layer_sizes = hidden_layer_sizes
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.negative_rate = negative_rate
        self.learning_rate = learning_rate
        self.mixup = mixup
        self.dynamic = dynamic
        self.pca_components = pca_components
        self.reduce_dim = reduce_dim
        self.parametric = parametric
        self.early_exaggeration = early_exaggeration
        self.exaggeration_iter = exaggeration_iter
        self.device = device
        self.verbose = verbose
        self.random_state = random_state
        self.perplexity = perplexity
        self.repulsion = repulsion
        self.knn_method = knn_method
        self.wide_neighbors = wide_neighbors
        self.wide_weight = wide_weight
        self.wide_share = wide_share
        self.neighbor_scaling = neighbor_scaling

    # -- validation -----------------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # scipy sparse input is densified for the MLP
        return tags

    def _check_params(self, n_samples: int) -> int:
        """Validates the hyper-parameters; returns the effective ``n_neighbors``."""
        def pos_int(name, v=None):
            v = getattr(self, name) if v is None else v
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"'{name}' must be a positive integer, got {v!r}")

        def number(name, lo, lo_open=True, hi=None, hi_open=True, value=None):
            v = getattr(self, name) if value is None else value
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(v):
                raise ValueError(f"'{name}' must be a finite number, got {v!r}")
            if (v <= lo if lo_open else v < lo) or \
                    (hi is not None and (v >= hi if hi_open else v > hi)):
                rng = f"{'(' if lo_open else '['}{lo}, {'inf' if hi is None else hi}" \
                      f"{')' if hi_open or hi is None else ']'}"
                raise ValueError(f"'{name}' must be in {rng}, got {v!r}")
        if not isinstance(self.parametric, (bool, np.bool_)):
            raise ValueError(f"'parametric' must be True or False, got {self.parametric!r}")
        parametric = bool(self.parametric)
        # 'auto' values differ between the two paths (module docstring: how they were set).
        auto = dict(feature_hops=2, nu_latent=0.1, loss='gkl', n_epochs=50,
                    learning_rate=1e-2) if parametric else dict(
            feature_hops=1, nu_latent=0.3, loss='kl', n_epochs=1500, learning_rate=1.0)
        for name, value in auto.items():
            setattr(self, name + '_', value if getattr(self, name) == 'auto'
                    else getattr(self, name))
        if self.repulsion not in ('auto',) + L.REPULSIONS:
            raise ValueError(f"'repulsion' must be 'auto', 'pairs', 'block' or 'fft', got "
                             f"{self.repulsion!r}")
        self.repulsion_ = self.repulsion if self.repulsion != 'auto' else (
            'pairs' if parametric or self.loss_ != 'kl' else
            'fft' if self.n_components == 2 else 'block')
        if parametric and self.repulsion_ in L.PARTITION_REPULSIONS:
            raise ValueError(f"repulsion={self.repulsion_!r} computes the partition function "
                             "of the non-parametric 'kl' loss; it needs parametric=False")
        L.check_repulsion(self.repulsion_, self.loss_, self.n_components)
        if self.repulsion_ == 'fft':  # t-SNE's optimiser: openTSNE's iterations and step
            if self.n_epochs == 'auto':
                self.n_epochs_ = 750
            if self.learning_rate == 'auto':  # / 4: our gradient has t-SNE's factor 4
                self.learning_rate_ = max(n_samples / float(self.early_exaggeration), 50.0) / 4
        self.negative_rate_ = self.negative_rate if self.negative_rate != 'auto' else (
            5 if parametric else 15 if self.repulsion_ == 'pairs' else 128)
        for name in ('n_components', 'n_neighbors', 'exaggeration_iter'):
            pos_int(name)
        for name in ('feature_hops', 'n_epochs', 'negative_rate'):
            pos_int(name, getattr(self, name + '_'))
        if self.batch_size != 'auto':
            pos_int('batch_size')
        for name in ('pca_components', 'reduce_dim'):
            if getattr(self, name) is not None:
                pos_int(name)
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, bool):
            sizes = (sizes,)
        if not isinstance(sizes, (tuple, list)):
            raise ValueError(f"'hidden_layer_sizes' must be a tuple of positive integers, "
                             f"got {self.hidden_layer_sizes!r}")
        for h in sizes:
            pos_int('hidden_layer_sizes', h)
        losses = F.ELEMENTWISE if parametric else L.LAYOUT_LOSSES
        if self.loss_ not in losses:
            extra = " ('kl' needs parametric=False)" if self.loss_ == 'kl' else ''
            raise ValueError(f"'loss' must be 'auto' or one of {losses}, got "
                             f"{self.loss!r}{extra}")
        if self.metric not in ('euclidean', 'cosine'):
            raise ValueError(f"'metric' must be 'euclidean' or 'cosine', got {self.metric!r}")
        number('mixup', 0, lo_open=False, hi=1)
        number('nu_input', 0)
        for name in ('nu_latent', 'learning_rate'):
            number(name, 0, value=getattr(self, name + '_'))
        number('early_exaggeration', 0)
        if not parametric and (self.mixup > 0 or self.dynamic):
            raise ValueError("'mixup' and 'dynamic' change the network's inputs or P during "
                             "training; they need parametric=True")
        number('alpha', 0, lo_open=False)
        if not isinstance(self.device, str) or self.device.split(':')[0] not in ('cpu', 'cuda'):
            raise ValueError(f"'device' must be 'cpu', 'cuda' or 'cuda:<index>', got "
                             f"{self.device!r}")
        if torch.device(self.device).type == 'cuda' and not torch.cuda.is_available():
            raise ValueError(f"'device' is {self.device!r} but CUDA is not available")
        self.perplexity_ = None
        if self.perplexity is not None:
            number('perplexity', 0)
            self.perplexity_ = float(self.perplexity)
            if 3 * self.perplexity_ > n_samples - 1:  # openTSNE's behaviour: clip, and say so
                self.perplexity_ = (n_samples - 1) / 3
                warnings.warn(f"perplexity ({self.perplexity}) needs more than n_samples - 1 "
                              f"= {n_samples - 1} neighbours; using perplexity = "
                              f"{self.perplexity_:.4g}", UserWarning, stacklevel=3)
        k = int(self.n_neighbors)
        if k >= n_samples:  # UMAP's behaviour: clip, and say so
            warnings.warn(f"n_neighbors ({k}) is not smaller than n_samples ({n_samples}); "
                          f"using n_neighbors = {n_samples - 1}", UserWarning, stacklevel=3)
            k = n_samples - 1
        number('wide_weight', 0, lo_open=False, hi=1, hi_open=False)
        number('wide_share', 0, hi=1, hi_open=False)
        self.wide_neighbors_ = self._check_wide(k, n_samples)
        scaling = check_neighbor_scaling(self.neighbor_scaling, allow_auto=True)
        one_scale = self.perplexity_ is None and self.wide_neighbors_ is None
        if scaling == 'auto':  # local where it was measured (docstring)
            scaling = 'local' if one_scale and not self.parametric else None
        self.neighbor_scaling_ = scaling
        if self.neighbor_scaling_ is not None and not one_scale:
            raise ValueError("'neighbor_scaling' chooses the neighbours of the calibrated "
                             "P; it cannot be combined with 'perplexity' or "
                             "'wide_neighbors'")
        return k

    def _check_wide(self, k: int, n_samples: int) -> Optional[int]:
        """Validates ``wide_neighbors``; returns its effective value (``None``: one scale)."""
        one_hop = self.feature_hops_ == 1 and self.perplexity_ is None
        wide = self.wide_neighbors
        if wide == 'auto':
            wide = 3 * k if one_hop and not self.parametric else None
        elif wide is not None:
            if isinstance(wide, bool) or not isinstance(wide, (int, np.integer)) or wide < 1:
                raise ValueError(f"'wide_neighbors' must be a positive integer, 'auto' or "
                                 f"None, got {wide!r}")
            if not one_hop:
                raise ValueError("'wide_neighbors' builds a one-hop P over two scales: it "
                                 "needs feature_hops=1 and perplexity=None")
            if wide <= int(self.n_neighbors):
                raise ValueError(f"'wide_neighbors' ({wide}) must be larger than "
                                 f"'n_neighbors' ({self.n_neighbors})")
        if wide is None or k >= n_samples - 1:  # too few points for a wider scale
            return None
        return int(min(wide, n_samples - 1))

    # -- model ----------------------------------------------------------------------------
    def _build_encoder(self, n_features: int) -> torch.nn.Module:
        layers, width = [], n_features
        sizes = self.hidden_layer_sizes
        for h in ((sizes,) if isinstance(sizes, (int, np.integer)) else sizes):
            layers += [torch.nn.Linear(width, int(h)), torch.nn.LayerNorm(int(h)), torch.nn.GELU()]
            width = int(h)
        layers.append(torch.nn.Linear(width, self.n_components))
        return torch.nn.Sequential(*layers)

    def fit(self, X, y=None) -> 'GenURLEmbedding':
        """Builds :math:`P` from ``X`` and trains the encoder. ``y`` is ignored.

        ``X``: ``[n_samples, n_features]`` numbers (numpy, scipy sparse, torch); validated
        with scikit-learn's ``validate_data`` (at least 2 samples and 1 feature, finite).
        """
        X = validate_data(self, _as_numpy(X), accept_sparse=_SPARSE, dtype=_DTYPES,
                          ensure_min_samples=2)
        self._out_dtype = X.dtype
        x = _dense_tensor(X)
        n = x.size(0)
        self.n_neighbors_ = self._check_params(n)
        self.knn_method_ = self._knn_backend(n)
        seed = self.random_state if self.random_state is not None else \
            int(np.random.randint(0, 2**31 - 1))
        gen = torch.Generator().manual_seed(int(seed))
        device = torch.device(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            builder = SimilarityBuilder(k=self.n_neighbors_, metric=self.metric,
                                        feature_hops=self.feature_hops_, lam=0.0,
                                        nu=self.nu_input, reduce_dim=self.reduce_dim,
                                        use_graph=False, perplexity=self.perplexity_,
                                        knn_method=self.knn_method_,
                                        wide_k=self.wide_neighbors_,
                                        wide_weight=float(self.wide_weight),
                                        wide_share=float(self.wide_share), seed=int(seed),
                                        neighbor_scaling=self.neighbor_scaling_)
            start = time.perf_counter()
            if self.verbose:
                print(f'GenURLEmbedding: building P ({n} points, k = {self.n_neighbors_}) ...',
                      file=sys.stderr, flush=True)
            sim = builder.build(x.to(device))
            self.knn_recall_ = getattr(builder, 'knn_info_', {}).get('recall')
            if self.verbose:
                print(f'GenURLEmbedding: P has {sim.num_pairs} pairs, built in '
                      f'{time.perf_counter() - start:.1f} s', file=sys.stderr, flush=True)
            if not self.parametric:
                self.similarity_ = sim
                self._fit_layout(sim, x, builder.basis_, int(seed), gen, device)
                return self
            self._fit_input_map(x)
            self.encoder_ = self._build_encoder(self.components_.size(1)
                                                if self.components_ is not None
                                                else x.size(1)).to(device)
            nbrs = None
            if self.mixup > 0:
                nbrs = knn_graph(x, self.n_neighbors_, metric=self.metric)[0]
            self._train(sim, x, nbrs, gen, device, builder)
        self.similarity_ = sim
        self.embedding_ = self._embed(x).astype(self._out_dtype, copy=False)
        return self

    def _knn_backend(self, n: int) -> str:
        """``knn_method`` with ``'auto'`` resolved (see the class docstring)."""
        if self.knn_method not in knn.METHODS:
            raise ValueError(f"'knn_method' must be one of {knn.METHODS}, got "
                             f"{self.knn_method!r}")
        if self.knn_method != 'auto':
            return self.knn_method
        if n > CHECKED_KNN_MIN_N and self.device == 'cpu' and is_available('faiss'):
            return 'faiss-checked'
        return 'exact' if n <= knn.AUTO_EXACT_MAX_N else 'auto'

    def _fit_layout(self, sim, x: torch.Tensor, basis: Optional[torch.Tensor], seed: int,
                    gen: torch.Generator, device: torch.device) -> None:
        """The non-parametric path: PCA start, then the coordinates themselves are trained.
        ``basis``: the projection P's kNN input went through (``builder.basis_``; None: the
        raw features). Keeps the training data in that space (O(N·r)) for :meth:`transform`."""
        from tqdm.auto import tqdm
        init = L.pca_init(x, self.n_components, std=1.0, seed=seed).to(device)
        bar = tqdm(total=self.n_epochs_, disable=not self.verbose,
                   desc='GenURLEmbedding (layout)', leave=False)

        def progress(it: int, value: float) -> None:
            bar.update(1)
            if self.verbose:
                bar.set_postfix(loss=f'{value:.3g}', refresh=False)
        y = L.optimize_layout(sim, init, loss=self.loss_, nu=self.nu_latent_, alpha=self.alpha,
                              n_iter=self.n_epochs_, exaggeration=self.early_exaggeration,
                              exaggeration_iter=self.exaggeration_iter,
                              negative_rate=self.negative_rate_,
                              learning_rate=self.learning_rate_, generator=gen,
                              callback=progress, repulsion=self.repulsion_)
        bar.close()
        self.encoder_ = None
        # transform searches neighbours in the space P's kNN was searched in (the builder's
        # rank-reduce_dim projection), which is also r/D of the memory and time.
        self.search_basis_ = None if basis is None else basis.cpu()
        self.train_x_ = self._search_space(x)
        self.embedding_ = y.cpu().numpy().astype(self._out_dtype, copy=False)

    def _search_space(self, x: torch.Tensor) -> torch.Tensor:
        """Rows as the kNN search of P saw them: unit norm for cosine, then projected."""
        if self.metric == 'cosine':
            x = torch.nn.functional.normalize(x, dim=1)
        return x if self.search_basis_ is None else x @ self.search_basis_

    def _place(self, x: torch.Tensor) -> np.ndarray:
        """Non-parametric :meth:`transform`: each point at the calibrated-weight mean of its
        nearest training points' coordinates. O(M·N·r) exact search, chunked."""
        base, queries = self.train_x_, self._search_space(x)
        k = min(self.n_neighbors_, base.size(0))
        index, dist = _knn_exact(queries, base, k, None, exclude_self=False)
        rho, sigma = calibrate(dist.double(), nu=self.nu_input)
        weights = calibrated_weights(dist.double(), rho, sigma, nu=self.nu_input)
        layout = torch.from_numpy(np.asarray(self.embedding_, dtype=np.float64))
        out = L.place_new_points(index, weights, layout)
        # A point equal to a training point keeps that point's fitted coordinates, so
        # transform(X_train) gives back embedding_ (scikit-learn's transformer contract).
        same = dist[:, 0] == 0
        out[same] = layout[index[same, 0]]
        return out.numpy()

    def _fit_input_map(self, x: torch.Tensor) -> None:
        """Centring, optional PCA projection and per-column scaling of the MLP's input."""
        self.mean_ = x.mean(0)
        self.components_ = None
        xc = x - self.mean_
        if self.pca_components is not None and x.size(1) > self.pca_components:
            _, _, v = torch.pca_lowrank(xc, q=self.pca_components, center=False, niter=3)
            self.components_ = v
            xc = xc @ v
        self.scale_ = xc.std(0).clamp_min(1e-6)

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        xc = x - self.mean_
        if self.components_ is not None:
            xc = xc @ self.components_
        return xc / self.scale_

    def _train(self, sim, x, nbrs, gen, device, builder) -> None:
        n = x.size(0)
        xs = self._input(x).to(device)
        opt = torch.optim.Adam(self.encoder_.parameters(), lr=self.learning_rate_)
        if self.batch_size == 'auto':
            self.batch_size_ = max(4096, math.ceil(sim.num_pairs / 16))
        else:
            self.batch_size_ = int(self.batch_size)
        steps_per_epoch = max(1, math.ceil(sim.num_pairs / self.batch_size_))
        total = steps_per_epoch * self.n_epochs_
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / (total + 1))
        from tqdm.auto import tqdm
        bar = tqdm(total=total, disable=not self.verbose, desc='GenURLEmbedding', leave=False)
        b = self.batch_size_
        m = b * self.negative_rate_
        index, weight = sim.index.to(device), sim.weight.to(device)
        for step in range(total):
            if self.dynamic and step == total // 2:
                index, weight = self._dynamic_similarity(builder, xs, sim, device)
            pick = torch.randint(0, index.size(1), (b,), generator=gen).to(device)
            ni = torch.randint(0, n, (m,), generator=gen)
            nj = (ni + torch.randint(1, n, (m,), generator=gen)) % n
            nodes = torch.cat([index[0, pick], index[1, pick], ni.to(device), nj.to(device)])
            if nodes.numel() >= n:
                # The batch touches (nearly) every point: one pass over all rows is cheaper
                # than sorting out the unique ones.
                uniq, inv = None, nodes
                xb = xs
            else:
                uniq, inv = torch.unique(nodes, return_inverse=True)
                xb = xs[uniq]
            if nbrs is not None:
                rows = torch.arange(n) if uniq is None else uniq.cpu()
                other = nbrs[rows, torch.randint(0, nbrs.size(1), (rows.numel(),),
                                                 generator=gen)].to(device)
                u = (torch.rand(rows.numel(), 1, generator=gen) * self.mixup).to(device)
                xb = xb + u * (xs[other] - xb)
            z = self.encoder_(xb)
            loss = F.indexed_pairs_loss(z, inv[:b], inv[b:2 * b], weight[pick],
                                        inv[2 * b:2 * b + m], inv[2 * b + m:], index.size(1),
                                        n * (n - 1), self.nu_latent_, self.loss_, self.alpha)
            if not torch.isfinite(loss):
                raise FloatingPointError(f'the loss became {loss.item()} at step {step}; lower '
                                         "'learning_rate' or raise 'nu_latent'")
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            if self.verbose:  # tqdm redraws at its own pace; the value is always current
                bar.set_postfix(loss=f'{loss.item():.3g}', refresh=False)
        bar.close()

    @torch.no_grad()
    def _dynamic_similarity(self, builder, xs, static, device):
        from ..structure.similarity import combine
        hidden = self.encoder_[:-1](xs)  # the last hidden layer as features
        dyn = builder.rebuild_features(hidden)
        index, weight = combine((static.index.to(device), static.weight.to(device)),
                                (dyn.index, dyn.weight), 0.5, xs.size(0))
        return index, weight

    def transform(self, X) -> np.ndarray:
        """Embeds ``X`` with the trained encoder: ``[n_samples, n_components]``, float64
        for float64 input, float32 otherwise."""
        check_is_fitted(self, 'embedding_')
        X = validate_data(self, _as_numpy(X), accept_sparse=_SPARSE, dtype=_DTYPES,
                          reset=False)
        if self.encoder_ is None:  # non-parametric
            return self._place(_dense_tensor(X)).astype(X.dtype, copy=False)
        return self._embed(_dense_tensor(X)).astype(X.dtype, copy=False)

    def _embed(self, x: torch.Tensor) -> np.ndarray:
        device = next(self.encoder_.parameters()).device
        self.encoder_.eval()
        out = []
        with torch.no_grad():
            for part in self._input(x).split(65536):
                out.append(self.encoder_(part.to(device)).cpu())
        self.encoder_.train()
        z = torch.cat(out)
        if not all_finite(z):
            raise FloatingPointError("the embedding holds NaN or infinity; lower "
                                     "'learning_rate' or raise 'nu_latent'")
        return z.numpy()

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X, y).embedding_
