"""Graph data sets for GenURL, offline-first. See ``datasets/README.md`` in the repository."""
from .paths import data_root, mirror_root
from .registry import (DATASETS, DatasetCorruptError, DatasetNotFoundError, DatasetSpec, get_spec, list_datasets,
                       load_dataset)

__all__ = ['load_dataset', 'list_datasets', 'get_spec', 'DatasetSpec', 'DatasetNotFoundError', 'DatasetCorruptError',
           'DATASETS', 'data_root', 'mirror_root']
