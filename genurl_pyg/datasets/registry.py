"""A registry of the graph data sets GenURL is evaluated on, built with PyG's and OGB's own
loaders, offline-first (see :mod:`genurl_pyg.datasets.paths`)."""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional

from typing import TYPE_CHECKING

from .._optional import require
from .paths import data_root, mirror_root, seed_from_mirror

if TYPE_CHECKING:  # torch and PyG load with the first data set, not with the registry
    from torch_geometric.data import Data


class DatasetNotFoundError(RuntimeError):
    """A data set is neither in the data root nor in the mirror, and could not be downloaded."""


class DatasetCorruptError(RuntimeError):
    """A data set's files are there but cannot be read (typically a truncated ``processed/``)."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str          # canonical name, e.g. 'Cora'
    group: str         # folder under the data root, e.g. 'planetoid'
    subdir: str        # the data set's own folder inside the group, as the loader lays it out
    protocol: str      # 'public' (Planetoid split), 'random-10/10/80', 'ogb-official', 'ogb-link'
    loader: Callable[[Path, 'DatasetSpec'], Data]
    description: str = ''
    metric: str = 'accuracy'  # what the probe reports: 'accuracy' or 'roc_auc' (binary)


def _planetoid(root: Path, spec: DatasetSpec) -> Data:
    from torch_geometric.datasets import Planetoid
    return Planetoid(str(root), spec.name, split='public')[0]


def _citation_full(root: Path, spec: DatasetSpec) -> Data:
    from torch_geometric.datasets import CitationFull
    return CitationFull(str(root), spec.subdir)[0]  # CitationFull's folder is its name


def _amazon(root: Path, spec: DatasetSpec) -> Data:
    from torch_geometric.datasets import Amazon
    return Amazon(str(root), spec.name)[0]


def _coauthor(root: Path, spec: DatasetSpec) -> Data:
    from torch_geometric.datasets import Coauthor
    return Coauthor(str(root), spec.name)[0]


def _karate(root: Path, spec: DatasetSpec) -> Data:
    from torch_geometric.datasets import KarateClub
    return KarateClub()[0]


def _planted_partition(root: Path, spec: DatasetSpec) -> Data:
    from .synthetic import planted_partition_graph
    return planted_partition_graph()


def _heterophilous(root: Path, spec: DatasetSpec) -> Data:
    from torch_geometric.datasets import HeterophilousGraphDataset
    return HeterophilousGraphDataset(str(root), spec.name)[0]  # masks [N, 10]: 10 splits


def _linkx(root: Path, spec: DatasetSpec) -> Data:
    from torch_geometric.datasets import LINKXDataset
    return LINKXDataset(str(root), spec.subdir)[0]  # y = -1 marks unlabelled nodes


def _ogbn(root: Path, spec: DatasetSpec) -> Data:
    require('ogb', f'the {spec.name} data set')
    import torch
    from ogb.nodeproppred import PygNodePropPredDataset
    from .ogb_files import allow_ogb_pickles
    allow_ogb_pickles()
    ds = PygNodePropPredDataset(spec.name, root=str(root))
    data = ds[0]
    split = ds.get_idx_split()
    n = data.num_nodes
    for key, idx in (('train', split['train']), ('val', split['valid']), ('test', split['test'])):
        mask = torch.zeros(n, dtype=torch.bool)
        mask[idx] = True
        data[f'{key}_mask'] = mask
    data.y = data.y.view(-1)
    return data


def _ogbl(root: Path, spec: DatasetSpec) -> Data:
    """OGB link data set with its official split attached as ``[E, 2]`` tensors
    ``link_{train,val,test}_pos`` and ``link_{val,test}_neg``. Featureless graphs (ogbl-ddi)
    get one-hot node ids as ``x``, the usual choice for transductive GNNs."""
    require('ogb', f'the {spec.name} data set')
    import torch
    from ogb.linkproppred import PygLinkPropPredDataset
    from .ogb_files import allow_ogb_pickles, load_link_split, rebuild_link_train_split
    allow_ogb_pickles()
    ds = PygLinkPropPredDataset(spec.name, root=str(root))
    data = ds[0]
    n = int(data.num_nodes)
    data.num_nodes = n
    split_dir = Path(ds.root) / 'split' / ds.meta_info['split']
    if rebuild_link_train_split(split_dir, data.edge_index):
        warnings.warn(f'{spec.name}: rebuilt the missing {split_dir}/train.pt from the '
                      'graph edges (the training edges are exactly those edges)')
    split = load_link_split(split_dir)
    data.link_train_pos = split['train']['edge']
    for ours, theirs in (('val', 'valid'), ('test', 'test')):
        data[f'link_{ours}_pos'] = split[theirs]['edge']
        data[f'link_{ours}_neg'] = split[theirs]['edge_neg']
    if data.x is None:
        data.x = torch.eye(n)
    return data


_SPECS = [
    DatasetSpec('Cora', 'planetoid', 'Cora', 'public', _planetoid, 'citation, 2708 nodes'),
    DatasetSpec('CiteSeer', 'planetoid', 'CiteSeer', 'public', _planetoid, 'citation, 3327 nodes'),
    DatasetSpec('PubMed', 'planetoid', 'PubMed', 'public', _planetoid, 'citation, 19717 nodes'),
    DatasetSpec('DBLP', 'citation_full', 'dblp', 'random-10/10/80', _citation_full,
                'citation, 17716 nodes'),
    DatasetSpec('Cora_ML', 'citation_full', 'cora_ml', 'random-10/10/80', _citation_full,
                'citation, 2995 nodes'),
    DatasetSpec('CiteSeer_full', 'citation_full', 'citeseer', 'random-10/10/80',
                _citation_full, 'citation, 4230 nodes'),
    DatasetSpec('Computers', 'amazon', 'Computers', 'random-10/10/80', _amazon,
                'co-purchase, 13752 nodes'),
    DatasetSpec('Photo', 'amazon', 'Photo', 'random-10/10/80', _amazon, 'co-purchase, 7650 nodes'),
    DatasetSpec('CS', 'coauthor', 'CS', 'random-10/10/80', _coauthor, 'co-authorship, 18333 nodes'),
    DatasetSpec('Physics', 'coauthor', 'Physics', 'random-10/10/80', _coauthor,
                'co-authorship, 34493 nodes'),
    DatasetSpec('ogbn-arxiv', 'ogb', 'ogbn_arxiv', 'ogb-official', _ogbn, 'OGB, 169k nodes'),
    DatasetSpec('ogbn-products', 'ogb', 'ogbn_products', 'ogb-official', _ogbn, 'OGB, 2.4M nodes'),
    DatasetSpec('ogbn-papers100M', 'ogb', 'ogbn_papers100M', 'ogb-official', _ogbn,
                'OGB, 111M nodes'),
    DatasetSpec('ogbl-ddi', 'ogb', 'ogbl_ddi', 'ogb-link', _ogbl, 'OGB link prediction, 4267 nodes'),
    DatasetSpec('Minesweeper', 'heterophilous', 'minesweeper', 'official-10-splits',
                _heterophilous, 'heterophilous grid, 10000 nodes', 'roc_auc'),
    DatasetSpec('Tolokers', 'heterophilous', 'tolokers', 'official-10-splits', _heterophilous,
                'heterophilous crowd-sourcing, 11758 nodes', 'roc_auc'),
    DatasetSpec('reed98', 'linkx', 'reed98', 'random-50/25/25', _linkx,
                'facebook100 (LINKX), 962 nodes'),
    DatasetSpec('amherst41', 'linkx', 'amherst41', 'random-50/25/25', _linkx,
                'facebook100 (LINKX), 2235 nodes'),
    DatasetSpec('johnshopkins55', 'linkx', 'johnshopkins55', 'random-50/25/25', _linkx,
                'facebook100 (LINKX), 5180 nodes'),
    DatasetSpec('cornell5', 'linkx', 'cornell5', 'random-50/25/25', _linkx,
                'facebook100 (LINKX), 18660 nodes'),
    DatasetSpec('KarateClub', 'builtin', '', 'random-50/25/25', _karate,
                'bundled with PyG, 34 nodes'),
    DatasetSpec('PlantedPartition', 'builtin', '', 'random-50/25/25', _planted_partition,
                'synthetic, 4 blocks x 100 nodes, no node features'),
]
DATASETS: Dict[str, DatasetSpec] = {s.name.lower(): s for s in _SPECS}
DATASETS['karate'] = DATASETS['karateclub']


def get_spec(name: str) -> DatasetSpec:
    """The registry entry of ``name`` (case-insensitive), including the synthetic
    homophily sweep ``syn-<base>-h<h>[-s<seed>]`` (:mod:`.synthetic`)."""
    spec = DATASETS.get(str(name).lower())
    if spec is None:
        spec = _synthetic_spec(name)
    if spec is None:
        known = ', '.join(s.name for s in _SPECS)
        raise ValueError(f"unknown data set {name!r}; known data sets: {known}, and the "
                         f"homophily sweep syn-<base>-h<h>[-s<seed>] (e.g. syn-cora-h0.1)")
    return spec


def _can_be_sweep_base(spec: DatasetSpec) -> bool:
    """A registry data set whose features and labels a sweep graph can be built on."""
    return (spec.group not in ('synthetic', 'builtin') and spec.protocol != 'ogb-link'
            and spec.metric == 'accuracy')


def _synthetic_spec(name: str) -> Optional[DatasetSpec]:
    from .synthetic import parse_synthetic_name
    parsed = parse_synthetic_name(name)
    if parsed is None:
        return None
    base, h, seed = parsed
    base_spec = DATASETS.get(base)
    if base_spec is None or not _can_be_sweep_base(base_spec):
        usable = ', '.join(s.name.lower() for s in _SPECS if _can_be_sweep_base(s))
        raise ValueError(f"synthetic data set {name!r}: base {base!r} must be a labelled "
                         f"node-classification data set of the registry ({usable})")
    canonical = f'syn-{base}-h{h:g}' + (f'-s{seed}' if seed else '')

    def loader(root: Path, spec: DatasetSpec) -> Data:
        from .synthetic import homophily_sweep_graph
        return homophily_sweep_graph(load_dataset(base_spec.name, str(root)), h, seed=seed)
    return DatasetSpec(canonical, 'synthetic', base_spec.name, 'random-50/25/25', loader,
                       f'{base_spec.name} features and labels, random edges of homophily '
                       f'{h:g} (4 per node, seed {seed})')


def load_dataset(name: str, root: Optional[str] = None) -> Data:
    """Loads one graph by registry name (case-insensitive), offline-first.

    Order: the data root (``root``, ``$GENURL_DATA`` or the user cache), then a copy from
    ``$GENURL_DATA_MIRROR``, then the loader's own download. If all fail, raises
    :class:`DatasetNotFoundError` saying where it looked and how to provide the files.
    """
    spec = get_spec(name)
    base = data_root(root)
    if spec.group in ('builtin', 'synthetic'):  # synthetic: built from its base data set
        return spec.loader(base, spec)
    group_root = base / spec.group
    # one process at a time per data set, from the mirror copy through the download to the
    # processed cache: runs started at once on a fresh root take turns instead of reading
    # each other's half-written files
    with _exclusive(group_root, spec.subdir):
        return _load_locked(spec, base, group_root)


def _load_locked(spec: DatasetSpec, base: Path, group_root: Path) -> Data:
    relative = f'{spec.group}/{spec.subdir}'
    seed_from_mirror(relative, base)
    raw = group_root / spec.subdir / 'raw'
    if raw.is_dir() and any(raw.iterdir()):
        return _load_present(spec, group_root)
    try:
        return spec.loader(group_root, spec)  # the loader downloads
    except Exception as exc:  # urllib, aiohttp and ogb raise different network errors
        looked = [str(group_root / spec.subdir)]
        m = mirror_root()
        looked.append(f'{m / relative} (GENURL_DATA_MIRROR)' if m else
                      'no mirror (GENURL_DATA_MIRROR is not set)')
        raise DatasetNotFoundError(
            f"data set {spec.name!r} was not found offline and could not be downloaded "
            f"({type(exc).__name__}: {exc}). Looked in: {'; '.join(looked)}. Provide it by "
            f"placing the loader's raw files under {group_root / spec.subdir}/raw, by "
            f"pointing GENURL_DATA_MIRROR at a folder that holds {relative}/raw, or by "
            f"running once on a machine with internet access.") from exc


@contextmanager
def _exclusive(group_root: Path, subdir: str):
    """Holds an exclusive lock on ``group_root/.<subdir>.genurl.lock`` while a data set is
    copied from the mirror, downloaded or processed, so that processes loading the same data
    set at once (one run per core) take turns: the first writes ``raw/`` and ``processed/``,
    the others then read them, instead of reading half-written files. The lock file sits
    beside the data set's folder, not in it: the folder may not exist before a download,
    and OGB's loaders take an existing folder without their release marker for an outdated
    copy. POSIX ``flock``; where it is missing (Windows) or the root is read-only, no lock."""
    try:
        import fcntl
        group_root.mkdir(parents=True, exist_ok=True)
        handle = open(group_root / f'.{subdir}.genurl.lock', 'a')
    except (ImportError, OSError):
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # closing releases the lock


def _load_present(spec: DatasetSpec, group_root: Path) -> Data:
    """Loads a data set whose raw files are present; a file that cannot be read (a processed
    cache cut short by a killed first run, or written by two processes at once) becomes one
    error that says which folder to delete so the loader rebuilds it from ``raw/``."""
    try:  # the caller holds the data set's lock
        return spec.loader(group_root, spec)
    except (ImportError, KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:
        folder = group_root / spec.subdir
        processed = folder / 'processed'
        if processed.is_dir():
            advice = (f'its processed cache {processed} is probably truncated or was written '
                      f'by two processes at once: delete that folder and rerun, and the loader '
                      f'rebuilds it from {folder / "raw"}')
        else:
            advice = f'check the raw files in {folder / "raw"} (a copy may be incomplete)'
        raise DatasetCorruptError(f'data set {spec.name!r} cannot be read '
                                  f'({type(exc).__name__}: {exc}); {advice}') from exc


def list_datasets() -> Dict[str, DatasetSpec]:
    return {s.name: s for s in _SPECS}
