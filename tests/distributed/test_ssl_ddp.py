"""The image task under torchrun: 2 CPU processes (gloo), each with half of every batch."""
import json
from pathlib import Path

import pytest
import torch

from .test_ddp import _torchrun

WORKER = Path(__file__).with_name('ssl_ddp_worker.py')


def _load(tmp_path, stem):
    return [torch.load(tmp_path / f'{stem}_rank{r}.pt', weights_only=False) for r in (0, 1)]


def test_the_gathered_loss_is_the_one_process_loss_and_gradient(tmp_path):
    # each rank holds 4 of the 8 images' views; gathered, P, Q and the GKL span all 8, and
    # DDP's averaged gradient equals the gradient of one process that holds the whole batch
    _torchrun([str(WORKER), 'gradient', str(tmp_path)], tmp_path)
    for r in _load(tmp_path, 'gradient'):
        assert r['world'] == 2
        torch.testing.assert_close(r['z'], r['ref_z'])  # global rows in one-process order
        torch.testing.assert_close(r['loss'], r['ref_loss'])
        for got, want in zip(r['grads'], r['ref_grads']):
            torch.testing.assert_close(got, want)


@pytest.mark.parametrize('objective', ['genurl', 'simclr'])
def test_two_processes_stay_in_sync_learn_and_resume(tmp_path, objective):
    if objective == 'simclr':
        pytest.importorskip('lightly')
    _torchrun([str(WORKER), 'train', str(tmp_path), objective], tmp_path)
    r0, r1 = _load(tmp_path, f'train{objective}')
    assert r0['net'] == 'DistributedDataParallel' and r0['local_batch'] == 16
    for a, b in zip(r0['params'], r1['params']):  # DDP averaged every gradient
        torch.testing.assert_close(a, b)
    for r in (r0, r1):  # the checkpoint holds every rank's view stream
        for a, b in zip(r['params'], r['resumed']):
            torch.testing.assert_close(a, b)
    assert r0['after'] > r0['before'], (r0['before'], r0['after'])


def test_the_job_writes_one_folder_from_rank_zero(tmp_path):
    _torchrun([str(WORKER), 'job', str(tmp_path)], tmp_path)
    r0, r1 = _load(tmp_path, 'job')
    assert r1['result'] == {'rank': 1, 'processes': 2}
    written = json.loads((tmp_path / 'job' / 'result.json').read_text())
    assert written['processes'] == 2 and 0 <= written['knn_accuracy'] <= 1
    assert sorted(p.name for p in (tmp_path / 'job').iterdir()) == \
        ['backbone.pt', 'checkpoint.pt', 'result.json']


def test_a_batch_that_does_not_split_over_the_processes_is_named(monkeypatch):
    from genurl_pyg.distributed import DistContext
    from genurl_pyg.vision import trainer as vt
    from genurl_pyg.vision.config import SSLConfig
    from ..vision.test_trainer import FAST, toy_data
    monkeypatch.setattr(vt.distributed, 'context', lambda device='cpu': DistContext(0, 3))
    with pytest.raises(ValueError, match='global batch.*3 processes'):
        vt.VisualTrainer(toy_data(), SSLConfig(**dict(FAST, batch_size=32)))
