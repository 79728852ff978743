"""Run by tests/distributed/test_ssl_ddp.py under torchrun (2 CPU processes, gloo).

``gradient OUT``: one step of GenURL's batch loss on a BatchNorm-free network, each rank
holding its half of the batch, against the same loss computed by one process on the whole
batch (saved side by side). ``train OUT OBJECTIVE``: the image trainer on toy images,
uninterrupted and stopped/resumed through a checkpoint. ``job OUT``: ``ssl_job``, the CLI's
folder writer, on the toy images."""
import os
import sys
from pathlib import Path

import torch

from genurl_pyg.distributed import context
from genurl_pyg.nn.losses.genurl_loss import GenURLLoss
from genurl_pyg.vision.config import SSLConfig
from genurl_pyg.vision.objective import BatchSimilarity
from genurl_pyg.vision.trainer import VisualTrainer, gather_views

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'vision'))
from test_trainer import FAST, toy_data  # noqa: E402

mode, out = sys.argv[1], Path(sys.argv[2])
torch.set_num_threads(1)
ctx = context()
rank = ctx.rank


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def gradient_step():
    big, b = 8, 4  # 8 images in all, 4 per rank
    g = torch.Generator().manual_seed(0)
    views = torch.randn(2 * big, 6, generator=g)  # [view 1 of all; view 2 of all]
    torch.manual_seed(1)
    reference = torch.nn.Linear(6, 5)
    net = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(6, 5))
    net.module.load_state_dict(reference.state_dict())
    loss_fn = GenURLLoss('gkl', 1.0, 1.0)
    p = BatchSimilarity(view_weight=1.0)(big)
    mine = torch.cat([views[rank * b:(rank + 1) * b], views[big + rank * b:big + (rank + 1) * b]])
    z = gather_views(net(mine), ctx)
    loss = loss_fn(z, p)
    loss.backward()
    ref_loss = loss_fn(reference(views), p)
    ref_loss.backward()
    return {'loss': loss.detach(), 'ref_loss': ref_loss.detach(), 'z': z.detach(),
            'ref_z': reference(views).detach(),
            'grads': [q.grad.clone() for q in net.module.parameters()],
            'ref_grads': [q.grad.clone() for q in reference.parameters()]}


def train(objective):
    # FAST: 8 epochs; GenURL's teacher kNN joins P for the last two (its features gathered)
    cfg = SSLConfig(**dict(FAST, objective=objective, monitor_every=0,
                           **({'view_weight': 0.5} if objective == 'genurl' else {})))
    data = toy_data()

    def trainer():
        from genurl_pyg.vision.backbones import SmallCNN
        torch.manual_seed(0)
        return VisualTrainer(data, cfg, backbone=SmallCNN(3, width=8))
    whole = trainer()
    before = whole.knn_monitor()
    whole.fit()
    ckpt = out / f'{objective}.pt'
    trainer().fit(ckpt, stop_after=7)  # resumed in the teacher's phase
    resumed = trainer()
    resumed.fit(ckpt)
    return {'before': before, 'after': whole.knn_monitor(), 'params': params(whole.model),
            'resumed': params(resumed.model), 'local_batch': whole.local_batch,
            'net': type(whole.net).__name__, 'losses': whole.state.losses}


def job():
    from genurl_pyg.vision import run
    run.load_images = lambda name, root=None: toy_data()  # the CLI's job on the toy images
    cfg = SSLConfig(**dict(FAST, epochs=2, monitor_every=0))
    return {'result': run.ssl_job('toy', cfg, out / 'job', progress=False,
                                  log=lambda m: None)}


saved = {'gradient': gradient_step, 'train': lambda: train(sys.argv[3]), 'job': job}[mode]()
torch.save({'rank': rank, 'world': ctx.world_size, **saved},
           out / f'{mode}{sys.argv[3] if mode == "train" else ""}_rank{rank}.pt')
# gloo sometimes aborts a finished process in its C++ teardown (see ddp_worker.py)
torch.distributed.barrier()
torch.distributed.destroy_process_group()
os._exit(0)
