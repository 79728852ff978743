from .channel_projector import ChannelProjector
from .ego_gcn import EgoGCN
from .ego_neighbor_sage import EgoNeighborSAGE
from .genurl import GenURL
from .node_embedding import NodeEmbedding
from .projection_head import ProjectionHead
from .sphere_projection import SphereProjection

__all__ = ['GenURL', 'EgoNeighborSAGE', 'EgoGCN', 'ChannelProjector', 'NodeEmbedding',
           'ProjectionHead', 'SphereProjection']
