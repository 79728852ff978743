from .ego_neighbor_sage import EgoNeighborSAGE
from .genurl import GenURL

__all__ = ['GenURL', 'EgoNeighborSAGE']
