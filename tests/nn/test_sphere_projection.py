import pytest
import torch
from torch_geometric.nn import MLP

from genurl_pyg import NodeConfig
from genurl_pyg.node.config import ConfigError
from genurl_pyg.nn.models import SphereProjection


def test_rows_land_on_the_sphere_and_keep_their_direction():
    torch.manual_seed(0)
    h = torch.randn(50, 8) * torch.logspace(-3, 2, 50).unsqueeze(1)  # scales 1e-3 .. 1e2
    z = SphereProjection(3.0)(h)
    assert torch.allclose(z.norm(dim=1), torch.full((50,), 3.0), atol=1e-5)
    cos = torch.nn.functional.cosine_similarity(z, h, dim=1)
    assert torch.allclose(cos, torch.ones(50), atol=1e-5)
    # so every squared distance is at most (2r)^2, whatever the scale of h
    assert torch.cdist(z, z).max() <= 6.0 + 1e-5


def test_channels_are_normalised_one_by_one_and_inner_projector_runs_first():
    torch.manual_seed(0)
    inner = MLP([8, 8, 4], norm=None)
    proj = SphereProjection(2.0, inner)
    h = torch.randn(10, 8)
    assert torch.allclose(proj(h), 2.0 * torch.nn.functional.normalize(inner(h), dim=1))
    z3 = SphereProjection(1.5)(torch.randn(10, 3, 4))
    assert torch.allclose(z3.norm(dim=-1), torch.full((10, 3), 1.5), atol=1e-5)
    before = [p.clone() for p in inner.parameters()]
    proj.reset_parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, inner.parameters()))
    assert 'radius=2.0' in repr(proj)


def test_gradient_is_tangent_to_the_sphere():
    h = torch.randn(6, 5, requires_grad=True)
    z = SphereProjection(3.0)(h)
    g = torch.autograd.grad((z * torch.randn_like(z)).sum(), h)[0]
    # a radial change of h does not move z: the gradient has no radial part
    assert torch.allclose((g * h).sum(1), torch.zeros(6), atol=1e-5)


@pytest.mark.parametrize('radius', [0.0, -1.0, True, 'big'])
def test_bad_radius_is_named(radius):
    with pytest.raises(ValueError, match="'radius'"):
        SphereProjection(radius)


def test_config_key_reaches_the_model_and_is_validated():
    from genurl_pyg.node.trainer import NodeEmbeddingTrainer
    from ..node.test_trainer import karate
    data = karate()
    cfg = NodeConfig(latent_radius=3.0, epochs=2, hidden_channels=8, out_channels=8,
                     projector_channels=0, k=5)
    trainer = NodeEmbeddingTrainer(data, cfg)
    assert isinstance(trainer.model.projector, SphereProjection)
    h, z = trainer.model(trainer.x_enc, trainer.graph)
    assert torch.allclose(z.norm(dim=1), torch.full((34,), 3.0), atol=1e-4)
    assert not torch.allclose(h.norm(dim=1), torch.full((34,), 3.0))  # h is kept as is
    assert torch.isfinite(trainer.fit()).all()
    plain = NodeEmbeddingTrainer(data, NodeConfig.from_dict({'latent_radius': 0.0}, cfg))
    assert not isinstance(plain.model.projector, SphereProjection)
    with pytest.raises(ConfigError, match="'latent_radius'"):
        NodeConfig(latent_radius=-1.0)
