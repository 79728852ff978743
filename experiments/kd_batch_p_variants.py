"""Exploration (issue 15): P over the whole batch, from the teacher's own geometry.

On Cora's inductive protocol PKT (the batch's cosine-affinity distributions) is ahead of
GenURL's student by 6-10 points on held-out validation nodes, and `pairs: block` (every
pair of the batch against P's kNN block) does not close it
(`kd_inductive_block_cora.md`). This script asks which part of PKT's target matters,
keeping GenURL's Student-t Q on the student (and the default coordinate anchor), by
replacing the kNN block with a P computed from the batch's teacher rows at each step:

* ``kl_knn``: P's kNN block as ``pairs: block`` reads it, but t-SNE's row-normalised KL
  (conditional distributions, PKT's normalisation) instead of the GKL;
* ``tsne``: a perplexity-calibrated Gaussian P over the batch's teacher distances (every
  other anchor, t-SNE's conditional P, symmetrised) with the row-normalised KL:
  parametric t-SNE with the teacher as the input space;
* ``cos_gkl``: PKT's teacher kernel (1 + cos) / 2 over every pair of the batch, under the
  GKL.

Variants take the names and overrides of ``kd_inductive_variants.py`` plus one extra key,
``p_batch`` (one of the modes above; absent: the package's objective), and for ``tsne``
``p_perplexity`` (default 30), and ``q_radius`` (> 0: the student's outputs put on the
sphere of that radius before Q, a bounded Q that reads directions only, as PKT's cosine
does; default 0, off). Exploration only:
a mode that wins on held-out validation becomes a config switch of the package, with
tests, before any benchmark row uses it.

Usage::

    python experiments/kd_batch_p_variants.py --dataset Cora --seeds 0 1 2 \\
        --variant "tsne=pairs=block,p_batch=tsne" --variant "pkt=objective=pkt" --out X
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kd_inductive_variants as kiv  # noqa: E402

MODES = ('kl_knn', 'tsne', 'cos_gkl')
PERPLEXITY = 30.0
_mode = {'now': None, 'perplexity': PERPLEXITY, 'radius': 0.0}


def _batch_p(t: torch.Tensor, mode: str, perplexity: float = PERPLEXITY) -> torch.Tensor:
    from genurl_pyg.structure.perplexity import perplexity_probabilities
    b = t.size(0)
    if mode == 'cos_gkl':
        tn = torch.nn.functional.normalize(t, dim=1)
        return (1 + tn @ tn.T) / 2
    # tsne: each row's conditional over the other B - 1 anchors, then symmetrised
    off = ~torch.eye(b, dtype=torch.bool, device=t.device)
    dist = torch.cdist(t, t)[off].view(b, b - 1)
    cond = perplexity_probabilities(dist, perplexity)
    p = torch.zeros(b, b, dtype=t.dtype, device=t.device)
    p[off] = cond.reshape(-1)
    return (p + p.T) / 2


def _install() -> None:
    from genurl_pyg.distill import distiller, graph
    from genurl_pyg.distill.objective import GenURLObjective
    from genurl_pyg.nn import functional as LF
    from genurl_pyg.nn.sampling import dense_block

    class BatchP(GenURLObjective):
        def __init__(self, teacher, cfg, edge_index=None, mode='tsne', perplexity=PERPLEXITY,
                     radius=0.0):
            super().__init__(teacher, cfg, edge_index)
            self.register_buffer('teacher', teacher, persistent=False)
            self.mode, self.perplexity, self.radius = mode, perplexity, radius

        def _gkl(self, encode, anchors, generator):
            z = encode(anchors)
            if self.radius > 0:
                z = self.radius * torch.nn.functional.normalize(z, dim=1)
            if self.mode == 'kl_knn':
                p = dense_block(self.sim, anchors.to(self.sim.index.device)).to(z.device)
                return LF.all_pairs_loss(z, p, self.cfg.nu_latent, 'kl')
            p = _batch_p(self.rows(self.teacher, anchors, z), self.mode, self.perplexity)
            variant = 'gkl' if self.mode == 'cos_gkl' else 'kl'
            return LF.all_pairs_loss(z, p, self.cfg.nu_latent, variant, self.cfg.alpha)

    original_build = distiller.build_objective

    def build(teacher, cfg, edge_index=None):
        if _mode['now'] is None:
            return original_build(teacher, cfg, edge_index)
        if cfg.objective != 'genurl' or cfg.pairs != 'block':
            raise ValueError("p_batch needs objective 'genurl' and pairs 'block'")
        return BatchP(teacher, cfg, edge_index, _mode['now'], _mode['perplexity'],
                      _mode['radius'])

    original_distill = graph.distill_node_embeddings

    def distill(*args, p_batch=None, p_perplexity=PERPLEXITY, q_radius=0.0, **kw):
        if p_batch is not None and p_batch not in MODES:
            raise ValueError(f'p_batch must be one of {MODES}, got {p_batch!r}')
        _mode.update(now=p_batch, perplexity=float(p_perplexity), radius=float(q_radius))
        try:
            return original_distill(*args, **kw)
        finally:
            _mode.update(now=None, perplexity=PERPLEXITY, radius=0.0)

    distiller.build_objective = build
    graph.distill_node_embeddings = distill


if __name__ == '__main__':
    _install()
    kiv.main()
