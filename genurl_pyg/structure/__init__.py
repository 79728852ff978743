"""Data structural modeling (DSM): from features and graphs to a sparse input similarity P."""
from .builder import SimilarityBuilder, build_similarity
from .calibration import calibrate, calibrated_weights
from .geodesic import geodesic_distances, hop_distances
from .kernels import log_student_t, student_t
from .knn import knn_graph
from .similarity import (Similarity, combine, feature_similarity, fuzzy_union,
                         graph_similarity)
from .trust import (LOW_INFORMATION, LOW_TRUST, MIN_CLOSURE_RATIO, estimate_lambda,
                    graph_feature_agreement, graph_feature_information, graph_is_noise,
                    triangle_closure_ratio)

__all__ = [
    'knn_graph', 'calibrate', 'calibrated_weights', 'geodesic_distances', 'hop_distances',
    'student_t', 'log_student_t', 'Similarity', 'SimilarityBuilder', 'build_similarity',
    'feature_similarity', 'graph_similarity', 'estimate_lambda', 'fuzzy_union', 'combine',
    'graph_feature_agreement', 'LOW_TRUST', 'graph_feature_information', 'LOW_INFORMATION',
    'triangle_closure_ratio', 'MIN_CLOSURE_RATIO', 'graph_is_noise',
]
