import numpy as np
import pytest
import torch

from genurl_pyg import NodeConfig
from genurl_pyg.nn import correlation_loss, decorrelation_loss
from genurl_pyg.node.config import ConfigError


def reference(z: np.ndarray, radius: float, views: int) -> float:
    """Per view: numpy's biased covariance, scaled by D / r^2, squared distance to I over D."""
    n, d = z.shape[0] // views, z.shape[1]
    out = []
    for v in range(views):
        cov = np.cov(z[v * n:(v + 1) * n], rowvar=False, bias=True)
        out.append(((cov * d / radius ** 2 - np.eye(d)) ** 2).sum() / d)
    return float(np.mean(out))


@pytest.mark.parametrize('views', [1, 2, 3])
def test_matches_numpy_covariance_per_view(views):
    torch.manual_seed(0)
    z = torch.randn(views * 40, 6, dtype=torch.float64) * torch.linspace(0.2, 2.0, 6)
    got = decorrelation_loss(z, 1.5, views)
    assert got.item() == pytest.approx(reference(z.numpy(), 1.5, views), rel=1e-10)


def test_landmarks_isotropic_collapsed_and_m_directions():
    torch.manual_seed(0)
    d, r = 8, 3.0
    sphere = torch.nn.functional.normalize(torch.randn(200_000, d, dtype=torch.float64), dim=1)
    assert decorrelation_loss(sphere * r, r).item() < 1e-3  # centred, isotropic: ~0
    point = torch.full((50, d), r / d ** 0.5, dtype=torch.float64)
    assert decorrelation_loss(point, r).item() == pytest.approx(1.0)  # one place: 1
    m = 2  # evenly over 2 of the 8 directions: D/m - 1 = 3
    flat = torch.zeros(200_000, d, dtype=torch.float64)
    flat[:, :m] = torch.nn.functional.normalize(torch.randn(200_000, m,
                                                            dtype=torch.float64), dim=1) * r
    assert decorrelation_loss(flat, r).item() == pytest.approx(d / m - 1, rel=1e-2)


def test_views_are_separate_and_row_order_within_a_view_does_not_matter():
    torch.manual_seed(1)
    a = torch.randn(30, 4, dtype=torch.float64)
    collapsed = torch.ones(30, 4, dtype=torch.float64)
    both = decorrelation_loss(torch.cat([a, collapsed]), 2.0, 2)
    assert both.item() == pytest.approx((decorrelation_loss(a, 2.0).item() + 1.0) / 2)
    # pooled over the two views the collapsed one would not count as collapsed
    assert decorrelation_loss(torch.cat([a, collapsed]), 2.0, 1).item() != pytest.approx(
        both.item())
    perm = torch.randperm(30)
    assert decorrelation_loss(a[perm], 2.0).item() == pytest.approx(
        decorrelation_loss(a, 2.0).item())


def test_gradient_spreads_a_low_rank_cloud():
    torch.manual_seed(2)
    z = torch.randn(100, 4) * torch.tensor([1.0, 1.0, 0.01, 0.01])
    z.requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.05)
    first = None
    for _ in range(200):
        opt.zero_grad()
        loss = decorrelation_loss(z, 2.0)
        first = loss.item() if first is None else first
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first
    assert z.detach().std(0).min() > 0.5  # the flat directions were opened up


@pytest.mark.parametrize('kwargs, match', [
    (dict(z=torch.randn(10), radius=1.0), "'z' must be"),
    (dict(z=torch.randn(10, 3), radius=0.0), "'radius'"),
    (dict(z=torch.randn(10, 3), radius=True), "'radius'"),
    (dict(z=torch.randn(10, 3), radius=1.0, num_views=0), "'num_views'"),
    (dict(z=torch.randn(10, 3), radius=1.0, num_views=3), 'not a multiple'),
    (dict(z=torch.randn(2, 3), radius=1.0, num_views=2), 'at least 2 points'),
])
def test_bad_inputs_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        decorrelation_loss(**kwargs)


# -- the node trainer's 'repulsion: decorrelation' ---------------------------------------------

def _config(**over):
    base = dict(epochs=40, hidden_channels=16, out_channels=8, projector_channels=0, k=5,
                latent_radius=2.0, repulsion='decorrelation', lr=0.01)
    base.update(over)
    return NodeConfig(**base)


def test_config_errors_name_what_is_missing():
    with pytest.raises(ConfigError, match="'repulsion'"):
        NodeConfig(repulsion='pairs')
    with pytest.raises(ConfigError, match="'loss: gkl'"):
        NodeConfig(repulsion='decorrelation', latent_radius=3.0, loss='fuzzy_ce')
    with pytest.raises(ConfigError, match="'latent_radius' > 0"):
        NodeConfig(repulsion='decorrelation')
    with pytest.raises(ConfigError, match="'decorrelation_weight'"):
        NodeConfig(repulsion='decorrelation', latent_radius=3.0, decorrelation_weight=-1.0)


def test_a_weight_without_its_term_is_refused():
    """decorrelation_weight moved from its default with repulsion student_t weighs nothing:
    refused by name in the node and the image config; the default and the two repulsions
    that have the term pass."""
    from genurl_pyg.vision.config import SSLConfig
    with pytest.raises(ConfigError, match="with 'student_t' it would do nothing"):
        NodeConfig(decorrelation_weight=1e-4)
    with pytest.raises(ValueError, match="ssl config 'decorrelation_weight' weighs the term"):
        SSLConfig(decorrelation_weight=0.5).validate()
    NodeConfig(decorrelation_weight=1.0)
    NodeConfig(repulsion='student_t+decorrelation', decorrelation_weight=1e-4)
    SSLConfig(repulsion='student_t+decorrelation', decorrelation_weight=0.5).validate()


def test_trainer_replaces_the_repulsion_and_the_term_spreads_the_points():
    from genurl_pyg.node.trainer import NodeEmbeddingTrainer
    from ..node.test_trainer import karate
    data = karate()
    spread = NodeEmbeddingTrainer(data, _config(decorrelation_weight=10.0))
    assert spread.model.criterion.alpha == 0.0  # no p = 0 term left in GKL
    attract_only = NodeEmbeddingTrainer(data, _config(decorrelation_weight=0.0))
    for t in (spread, attract_only):
        t.fit()
        assert all(np.isfinite(t.state.losses))

    def term(t):
        t.model.eval()
        with torch.no_grad():
            return decorrelation_loss(t.model(t.x_enc, t.graph)[1], 2.0).item()

    # attraction alone gathers the points; the term keeps them spread
    assert term(spread) < 0.5 * term(attract_only)
    assert NodeEmbeddingTrainer(data, _config(repulsion='student_t')).model.criterion.alpha \
        == NodeConfig().alpha


def test_step_adds_the_weighted_term_to_the_attraction(monkeypatch):
    from genurl_pyg.node.trainer import NodeEmbeddingTrainer
    from ..node.test_trainer import karate
    import genurl_pyg.node.trainer as trainer_module
    seen = []
    real = trainer_module.decorrelation_loss

    def spy(z, radius, num_views):
        value = real(z, radius, num_views)
        seen.append((tuple(z.shape), radius, num_views, value.item()))
        return value

    monkeypatch.setattr(trainer_module, 'decorrelation_loss', spy)
    t = NodeEmbeddingTrainer(karate(), _config(epochs=1, decorrelation_weight=3.0,
                                               batch_mode='all'))
    torch.manual_seed(0)
    t.generator.manual_seed(0)
    loss = t.step()
    (shape, radius, views, value), = seen
    assert shape == (68, 8) and radius == 2.0 and views == 2  # two stacked views of 34
    assert loss > 3.0 * value  # attraction (> 0) plus 3 x the term


def test_minibatch_paths_are_refused():
    from genurl_pyg.node.trainer import NodeEmbeddingTrainer
    from ..node.test_trainer import karate
    with pytest.raises(ConfigError, match='full-graph steps'):
        NodeEmbeddingTrainer(karate(), _config(encoder='sign', batch_mode='sampled'))


# -- correlation_loss: CCA-SSG's term, beside the repulsion ------------------------------------

def correlation_reference(z: np.ndarray, views: int) -> float:
    """Per view: numpy's correlation matrix, squared distance to I over D."""
    n, d = z.shape[0] // views, z.shape[1]
    out = [((np.corrcoef(z[v * n:(v + 1) * n], rowvar=False) - np.eye(d)) ** 2).sum() / d
           for v in range(views)]
    return float(np.mean(out))


@pytest.mark.parametrize('views', [1, 2, 3])
def test_correlation_matches_numpy_corrcoef_per_view(views):
    torch.manual_seed(3)
    mix = torch.randn(6, 6, dtype=torch.float64)  # correlated columns of different scales
    z = torch.randn(views * 50, 6, dtype=torch.float64) @ mix * torch.linspace(0.1, 5.0, 6)
    got = correlation_loss(z, views, eps=0.0)
    assert got.item() == pytest.approx(correlation_reference(z.numpy(), views), rel=1e-10)


def test_correlation_is_scale_free_and_reads_landmarks():
    torch.manual_seed(4)
    z = torch.randn(200_000, 5, dtype=torch.float64)
    assert correlation_loss(z).item() < 1e-3  # independent columns: ~0
    # per-column scales and shifts change nothing (unlike the covariance form)
    scaled = z * torch.tensor([1e-3, 1.0, 7.0, 50.0, 2.0], dtype=torch.float64) + 3.0
    assert correlation_loss(scaled, eps=0.0).item() == pytest.approx(
        correlation_loss(z, eps=0.0).item(), rel=1e-6)
    one = torch.randn(100, 1, dtype=torch.float64)
    same = torch.cat([one, -2 * one, 3 * one, one, 0.5 * one], dim=1)  # one column, signs
    assert correlation_loss(same).item() == pytest.approx(5 - 1, rel=1e-6)
    const = torch.ones(10, 3, dtype=torch.float64)  # eps: finite, each diagonal entry 0
    assert correlation_loss(const).item() == pytest.approx(1.0)


@pytest.mark.parametrize('kwargs, match', [
    (dict(z=torch.randn(10)), "'z' must be"),
    (dict(z=torch.randn(10, 3), num_views=0), "'num_views'"),
    (dict(z=torch.randn(10, 3), num_views=3), 'not a multiple'),
    (dict(z=torch.randn(2, 3), num_views=2), 'at least 2 points'),
])
def test_correlation_bad_inputs_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        correlation_loss(**kwargs)


def test_beside_keeps_the_repulsion_and_adds_the_correlation_term(monkeypatch):
    """'student_t+decorrelation': GKL's alpha as configured (no sphere needed) and the step's
    loss is the GKL plus the weight times the correlation term of the two stacked views."""
    from genurl_pyg.node.trainer import NodeEmbeddingTrainer
    from ..node.test_trainer import karate
    import genurl_pyg.node.trainer as trainer_module
    seen = []
    real = trainer_module.correlation_loss

    def spy(z, num_views, **kw):
        value = real(z, num_views, **kw)
        seen.append((tuple(z.shape), num_views, value.item()))
        assert kw['probes'] == 0  # exact unless decorrelation_probes is set
        return value

    monkeypatch.setattr(trainer_module, 'correlation_loss', spy)
    monkeypatch.setattr(trainer_module, 'decorrelation_loss', None)  # the other form: unused

    def loss_of(weight):
        cfg = _config(epochs=1, latent_radius=0.0, repulsion='student_t+decorrelation',
                      decorrelation_weight=weight, batch_mode='all', alpha=0.5)
        t = NodeEmbeddingTrainer(karate(), cfg)
        assert t.model.criterion.alpha == 0.5
        torch.manual_seed(0)
        t.generator.manual_seed(0)
        return t.step()

    with_term, without = loss_of(3.0), loss_of(0.0)
    (shape, views, value), _ = seen
    assert shape == (68, 8) and views == 2  # two stacked views of 34 nodes
    assert with_term == pytest.approx(without + 3.0 * value, rel=1e-5)


def test_beside_decorrelates_the_embedding():
    from genurl_pyg.node.trainer import NodeEmbeddingTrainer
    from ..node.test_trainer import karate
    data = karate()

    def term(weight):
        t = NodeEmbeddingTrainer(data, _config(latent_radius=0.0, decorrelation_weight=weight,
                                               repulsion='student_t+decorrelation'))
        t.fit()
        assert all(np.isfinite(t.state.losses))
        t.model.eval()
        with torch.no_grad():
            return correlation_loss(t.model(t.x_enc, t.graph)[1]).item()

    assert term(10.0) < 0.5 * term(0.0)


def test_beside_refuses_minibatch_paths():
    from genurl_pyg.node.trainer import NodeEmbeddingTrainer
    from ..node.test_trainer import karate
    with pytest.raises(ConfigError, match="'repulsion: student_t\\+decorrelation' needs full"):
        NodeEmbeddingTrainer(karate(), _config(encoder='sign', batch_mode='sampled',
                                               repulsion='student_t+decorrelation'))


def test_probed_correlation_is_an_unbiased_estimate_of_the_term_and_its_gradient():
    torch.manual_seed(5)
    z = (torch.randn(300, 12, dtype=torch.float64) @ torch.randn(12, 12, dtype=torch.float64))
    z.requires_grad_(True)
    exact = correlation_loss(z, 2)
    (g_exact,) = torch.autograd.grad(exact, z)
    gen = torch.Generator().manual_seed(0)
    draws, grads = [], torch.zeros_like(z)
    for _ in range(3000):
        est = correlation_loss(z, 2, probes=4, generator=gen)
        (g,) = torch.autograd.grad(est, z)
        draws.append(est.item())
        grads += g / 3000
    draws = np.array(draws)
    assert abs(draws.mean() - exact.item()) < 4 * draws.std() / np.sqrt(len(draws))
    assert draws.std() > 0  # it is an estimate, not the exact term again
    cos = torch.nn.functional.cosine_similarity(grads.flatten(), g_exact.flatten(), dim=0)
    assert cos > 0.99
    # the same generator state draws the same probes
    a = correlation_loss(z, 2, probes=4, generator=torch.Generator().manual_seed(1))
    b = correlation_loss(z, 2, probes=4, generator=torch.Generator().manual_seed(1))
    assert a.item() == b.item()
    with pytest.raises(ValueError, match="'probes' must be an integer >= 0"):
        correlation_loss(z, 2, probes=-1)
    with pytest.raises(ConfigError, match="'decorrelation_probes'"):
        NodeConfig(decorrelation_probes=1.5, repulsion='student_t+decorrelation')
    with pytest.raises(ConfigError, match="with repulsion 'student_t' it would do nothing"):
        NodeConfig(decorrelation_probes=16)


@pytest.mark.parametrize('constant_column', [False, True])
def test_probed_correlation_value_and_gradient_match_autograd_with_the_same_probes(
        constant_column):
    """The written-out backward against autograd through the plain expression: the
    standardised copy, then ||(Z~^T Z~ - I) R||^2 / (m D) per view, with the probes the
    generator draws (a constant column standardises to 0 through eps)."""
    torch.manual_seed(3)
    z = torch.randn(2 * 50, 7, dtype=torch.float64) @ torch.randn(7, 7, dtype=torch.float64)
    z = z * 4.0 + 3.0  # off-centre and wide, where a careless variance cancels
    if constant_column:
        z[:, 2] = 1.5
    z.requires_grad_(True)
    probes, eps = 5, 1e-8
    gen = torch.Generator().manual_seed(9)
    draws = [torch.randn(7, probes, generator=gen, dtype=z.dtype) for _ in range(2)]
    expected = 0.0
    for view, r in zip(z.view(2, 50, 7), draws):
        centred = view - view.mean(0)
        unit = centred / ((centred.pow(2).mean(0) + eps).sqrt() * 50 ** 0.5)
        expected = expected + ((unit.t() @ unit - torch.eye(7, dtype=z.dtype)) @ r).pow(2).sum() / (probes * 7)
    expected = expected / 2
    got = correlation_loss(z, 2, probes=probes, generator=torch.Generator().manual_seed(9))
    (g_expected,) = torch.autograd.grad(expected * 1.7, z)
    (g_got,) = torch.autograd.grad(got * 1.7, z)
    assert got.item() == pytest.approx(expected.item(), rel=1e-10)
    assert torch.allclose(g_got, g_expected, rtol=1e-7, atol=1e-12)
    assert torch.autograd.gradcheck(
        lambda x: correlation_loss(x, 2, probes=probes, generator=torch.Generator().manual_seed(9)),
        (z.detach()[:, [0, 1, 3]].clone().requires_grad_(True),))


def test_trainer_passes_the_probes_and_its_generator(monkeypatch):
    from genurl_pyg.node.trainer import NodeEmbeddingTrainer
    from ..node.test_trainer import karate
    import genurl_pyg.node.trainer as trainer_module
    seen = []
    real = trainer_module.correlation_loss

    def spy(z, num_views, **kw):
        seen.append(kw)
        return real(z, num_views, **kw)

    monkeypatch.setattr(trainer_module, 'correlation_loss', spy)
    t = NodeEmbeddingTrainer(karate(), _config(epochs=2, latent_radius=0.0,
                                               repulsion='student_t+decorrelation',
                                               decorrelation_weight=1.0,
                                               decorrelation_probes=3))
    t.fit()
    assert len(seen) == 2 and all(kw['probes'] == 3 and kw['generator'] is t.generator
                                  for kw in seen)
    assert all(np.isfinite(t.state.losses))


def test_the_term_reads_h_or_z_as_configured(monkeypatch):
    """decorrelation_input: 'h' hands the term the representation before the sphere (rows
    off the radius), 'z' the sphere's points; 'h' without the term is refused by name."""
    import genurl_pyg.node.trainer as tr
    from genurl_pyg.node import NodeEmbeddingTrainer
    from ..node.test_trainer import karate
    seen = []
    real = tr.correlation_loss

    def spy(z, **kw):
        seen.append(z.detach().norm(dim=1))
        return real(z, **kw)

    monkeypatch.setattr(tr, 'correlation_loss', spy)
    for where in ('z', 'h'):
        seen.clear()
        cfg = _config(repulsion='student_t+decorrelation', decorrelation_weight=1e-3,
                      latent_radius=3.0, decorrelation_input=where, epochs=1)
        NodeEmbeddingTrainer(karate(), cfg).fit()
        norms = seen[0]
        assert norms.numel() == 2 * 34  # both views stacked, as the loss sees them
        on_sphere = torch.allclose(norms, torch.full_like(norms, 3.0), atol=1e-4)
        assert on_sphere == (where == 'z')
    with pytest.raises(ConfigError, match="'decorrelation_input: h' moves the correlation"):
        NodeConfig(decorrelation_input='h')
    with pytest.raises(ConfigError, match="'decorrelation_input' must be one of"):
        NodeConfig(decorrelation_input='x', repulsion='student_t+decorrelation')
