"""Evaluation of frozen representations, one module per task.

* :mod:`~genurl_pyg.evaluation.node`: node-classification splits and the two linear probes
  (logistic regression with ``C`` chosen on validation; the Adam linear layer of the
  published graph papers), OGB node metrics.
* :mod:`~genurl_pyg.evaluation.link`: link prediction from frozen embeddings (Hits@K, the
  Hadamard-MLP probe, OGB's evaluator).
* :mod:`~genurl_pyg.evaluation.dr`: dimension-reduction metrics (trustworthiness,
  continuity, kNN accuracy, distance correlation, silhouette).
* :mod:`~genurl_pyg.evaluation.image`: the self-supervised image protocols (weighted kNN
  monitor, k = 200, temperature 0.1; linear probe on frozen features).
* :mod:`~genurl_pyg.evaluation.fidelity`: label-free agreement of two embeddings of the
  same nodes (shared k nearest neighbours), e.g. a distilled student's fidelity to its
  teacher on held-out nodes.

The node probe's names are re-exported here (``from genurl_pyg.evaluation import
linear_probe``), as before the package split.
"""
from .fidelity import neighbour_overlap
from .node import (PROTOCOLS, AdamProbeResult, ProbeResult, adam_linear_probe, linear_probe,
                   ogb_node_metric, random_planetoid_split, random_split, split_for, summarize)

__all__ = ['PROTOCOLS', 'ProbeResult', 'AdamProbeResult', 'random_split', 'random_planetoid_split',
           'split_for', 'ogb_node_metric', 'linear_probe', 'adam_linear_probe', 'summarize',
           'neighbour_overlap']
