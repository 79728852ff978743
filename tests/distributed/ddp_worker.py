"""Run by tests/distributed/test_ddp.py under torchrun (2 CPU processes, gloo): trains on a
small community graph and saves this rank's final parameters and embeddings."""
import os
import sys
from pathlib import Path

import torch

from genurl_pyg import NodeConfig
from genurl_pyg.distributed import context
from genurl_pyg.node.trainer import NodeEmbeddingTrainer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'node'))
from test_trainer import sbm_graph  # noqa: E402

out, encoder = Path(sys.argv[1]), sys.argv[2]
torch.set_num_threads(1)
data = sbm_graph()
cfg = NodeConfig(encoder=encoder, epochs=40, hidden_channels=64, out_channels=32,
                 projector_channels=16, k=10, lr=0.01, batch_mode='sampled', batch_size=60,
                 num_pos=1024, num_neg=2048)
trainer = NodeEmbeddingTrainer(data, cfg)
h = trainer.fit()
ctx = context()
torch.save({'rank': ctx.rank, 'world': ctx.world_size, 'h': h, 'y': data.y,
            'params': [p.detach().clone() for p in trainer.model.parameters()],
            'ddp': type(trainer.net).__name__},
           out / f'rank{ctx.rank}.pt')
# gloo sometimes aborts a finished process in its C++ teardown ("terminate called without
# an active exception", about 1 run in 12-24 before and after this session's changes). The
# results are saved: meet, release the group, and leave without the static destructors.
torch.distributed.barrier()
torch.distributed.destroy_process_group()
os._exit(0)
