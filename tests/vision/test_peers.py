"""The benchmark's peers run in the same loop as GenURL (lightly's losses and heads)."""
import pytest
import torch

from genurl_pyg.vision.backbones import SmallCNN
from genurl_pyg.vision.config import SSLConfig
from genurl_pyg.vision.trainer import VisualTrainer

from .test_trainer import FAST, toy_data

pytest.importorskip('lightly')


@pytest.mark.parametrize('name', ['simclr', 'byol', 'barlow'])
def test_each_peer_trains_in_the_shared_loop(name):
    torch.manual_seed(0)
    trainer = VisualTrainer(toy_data(), SSLConfig(**dict(FAST, epochs=2, objective=name,
                                                         monitor_every=0)),
                            backbone=SmallCNN(3, width=4))
    assert trainer.teacher is None and 'projector' not in trainer.model
    before = [p.detach().clone() for p in trainer.model['backbone'].parameters()]
    trainer.fit()
    assert len(trainer.state.losses) == 2
    assert all(torch.isfinite(torch.tensor(trainer.state.losses)))
    after = list(trainer.model['backbone'].parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    if name == 'byol':  # the momentum target trails the online network
        target = list(trainer.model['peer'].target_backbone.parameters())
        assert any(not torch.equal(t, a) for t, a in zip(target, after))


def test_unknown_objective_is_named():
    with pytest.raises(ValueError, match="'objective'.*genurl"):
        SSLConfig(objective='moco').validate()


def test_lars_optimiser_trains():
    from lightly.utils.lars import LARS
    trainer = VisualTrainer(toy_data(), SSLConfig(**dict(FAST, epochs=1, optimizer='lars',
                                                         lr=0.3, monitor_every=0)),
                            backbone=SmallCNN(3, width=4))
    assert isinstance(trainer.optimizer, LARS)
    trainer.fit()
    assert torch.isfinite(torch.tensor(trainer.state.losses)).all()
