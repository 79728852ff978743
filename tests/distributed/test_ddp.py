"""Multi-process training with DistributedDataParallel: 2 CPU processes (gloo) via torchrun."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genurl_pyg import NodeConfig, distributed
from genurl_pyg.distributed import DistContext, context, rank_generator
from genurl_pyg.node.trainer import NodeEmbeddingTrainer

from ..node.test_trainer import knn1_accuracy, sbm_graph

WORKER = Path(__file__).with_name('ddp_worker.py')
REPO = Path(__file__).resolve().parents[2]


def _torchrun(args, tmp_path, timeout=300, **extra_env):
    env = {**os.environ, 'OMP_NUM_THREADS': '1', **extra_env,
           'PYTHONPATH': os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')])}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone',
           '--nproc_per_node=2'] + args
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.parametrize('encoder', ['gcn', 'sign'])
def test_two_processes_stay_in_sync_and_learn(tmp_path, encoder):
    _torchrun([str(WORKER), str(tmp_path), encoder], tmp_path)
    r0, r1 = (torch.load(tmp_path / f'rank{r}.pt', weights_only=False) for r in (0, 1))
    assert (r0['world'], r1['world']) == (2, 2) and r0['ddp'] == 'DistributedDataParallel'
    for a, b in zip(r0['params'], r1['params']):  # DDP averaged every gradient
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(r0['h'], r1['h'])
    assert knn1_accuracy(r0['h'], r0['y']) > 0.9


@pytest.mark.skipif(not os.environ.get('GENURL_DATA_MIRROR'),
                    reason='needs GENURL_DATA_MIRROR (../shared/datasets)')
def test_cli_under_torchrun_matches_one_process(tmp_path, monkeypatch):
    # `torchrun --nproc_per_node=2 -m genurl_pyg train ...` reaches one process's accuracy.
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'GENURL_DATA': str(tmp_path / 'data')}
    args = ['--dataset', 'Cora', '--epochs', '30', '--seeds', '1', '--no-progress',
            '--set', 'hidden_channels=256', '--set', 'out_channels=256']
    # the data set is prepared once first, so that the two runs below, started together
    # (the one-process run beside torchrun: their imports and epochs overlap instead of
    # adding up), do not both write its processed files
    from genurl_pyg.datasets import load_dataset
    monkeypatch.setenv('GENURL_DATA', env['GENURL_DATA'])
    load_dataset('Cora')
    log = tmp_path / 'one.log'  # a file, not a pipe: nobody reads it while torchrun runs
    with log.open('w') as handle:
        single = subprocess.Popen([sys.executable, '-m', 'genurl_pyg', 'train', '--out',
                                   'one'] + args, cwd=tmp_path, stdout=handle,
                                  stderr=subprocess.STDOUT, env=env)
        try:
            _torchrun(['-m', 'genurl_pyg', 'train', '--out', 'ddp'] + args, tmp_path,
                      GENURL_DATA=env['GENURL_DATA'])
            single.wait(timeout=300)
        finally:
            single.kill()
    assert single.returncode == 0, log.read_text()[-2000:]
    ddp = json.loads((tmp_path / 'ddp' / 'result.json').read_text())
    one = json.loads((tmp_path / 'one' / 'result.json').read_text())
    assert ddp['processes'] == 2 and one['processes'] == 1
    assert ddp['accuracy']['mean'] >= 0.7 and one['accuracy']['mean'] >= 0.7
    assert abs(ddp['accuracy']['mean'] - one['accuracy']['mean']) <= 0.05
    assert sorted(p.name for p in (tmp_path / 'ddp').iterdir()) == \
        sorted(p.name for p in (tmp_path / 'one').iterdir())  # rank 0 alone wrote, atomically


def test_without_torchrun_everything_is_one_process(monkeypatch):
    monkeypatch.delenv('WORLD_SIZE', raising=False)
    assert context() == DistContext() and not context().enabled


def test_bad_world_size_is_named(monkeypatch):
    monkeypatch.setenv('WORLD_SIZE', 'two')
    with pytest.raises(ValueError, match='WORLD_SIZE'):
        context()


def test_resume_restores_the_shared_stream_and_keeps_the_ranks_apart(tmp_path, monkeypatch):
    # Rank 0 alone writes checkpoints. On resume every rank must continue the shared
    # (anchor order) stream, and the other ranks must not take over rank 0's per-step stream.
    data = sbm_graph(n_per=30)
    cfg = NodeConfig(encoder='sign', batch_mode='sampled', batch_size=40, epochs=3,
                     hidden_channels=16, out_channels=8, projector_channels=8, k=5)
    monkeypatch.setattr(distributed, 'wrap_ddp', lambda model, ctx, device: model)

    def as_rank(rank):  # the trainer as torchrun's rank `rank` of 2, without a process group
        monkeypatch.setattr(distributed, 'context', lambda device='cpu': DistContext(rank, 2))
        return NodeEmbeddingTrainer(data, cfg)

    first = as_rank(0)
    first.run_epoch()
    first.state.epoch = 1
    ckpt = tmp_path / 'seed0.pt'
    first.save_checkpoint(ckpt)
    resumed = [as_rank(r) for r in (0, 1)]
    for trainer in resumed:
        trainer.load_checkpoint(ckpt)
        assert torch.equal(trainer.shared_generator.get_state(),
                           first.shared_generator.get_state())
    assert torch.equal(resumed[0].generator.get_state(), first.generator.get_state())
    states = [resumed[1].generator.get_state(), first.generator.get_state(),
              rank_generator(cfg.seed, 1).get_state()]
    assert not torch.equal(states[0], states[1]) and not torch.equal(states[0], states[2])
