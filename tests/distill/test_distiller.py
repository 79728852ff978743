import pytest
import torch

from genurl_pyg.distill import (DistillConfig, GenURLDistiller, distill_node_embeddings,
                                load_teacher, teacher_embeddings)
from torch_geometric.data import Data
from genurl_pyg.nn.models import SphereProjection


def _blobs(n_per=60, seed=0):
    """Teacher embeddings with three clusters, and student features that carry them
    through an unknown linear map, beside louder nuisance columns: a random network's
    neighbourhoods follow the nuisance, a trained student must learn to ignore it."""
    g = torch.Generator().manual_seed(seed)
    centres = 4 * torch.randn(3, 8, generator=g)
    t = torch.cat([c + torch.randn(n_per, 8, generator=g) for c in centres])
    signal = t @ torch.randn(8, 8, generator=g) / 4
    x = torch.cat([signal, 3 * torch.randn(t.size(0), 12, generator=g)], 1)
    return t, x


def _knn(z, k):
    d = torch.cdist(z, z)
    d.fill_diagonal_(float('inf'))
    return d.topk(k, largest=False).indices


def _overlap(a, b, k=10):
    na, nb = _knn(a, k), _knn(b, k)
    return sum(len(set(x.tolist()) & set(y.tolist())) for x, y in zip(na, nb)) / na.numel()


SMALL = dict(hidden_channels=64, out_channels=16, batch_size=60, epochs=40, lr=3e-3)


def test_student_recovers_the_teachers_neighbourhoods():
    t, x = _blobs()
    d = GenURLDistiller(t, x, DistillConfig.from_dict(SMALL))
    untrained = _overlap(d.embed(), t)
    d.fit()
    trained = _overlap(d.embed(), t)
    chance = 10 / (t.size(0) - 1)
    assert trained > 0.45 > 5 * chance, (trained, chance)
    assert trained > untrained + 0.1, (untrained, trained)


def test_student_embeds_new_rows_without_a_graph():
    t, x = _blobs()
    data = Data(x=x, edge_index=torch.randint(0, x.size(0), (2, 400)))
    d = distill_node_embeddings(data, t, epochs=2, **{k: v for k, v in SMALL.items()
                                                      if k != 'epochs'})
    new = torch.randn(7, 20)
    out = d.embed(new)  # features only: no edge_index anywhere
    assert out.shape == (7, 16) and torch.isfinite(out).all()
    # eval mode: a row's embedding does not depend on the other rows of the batch
    torch.testing.assert_close(d.embed(new[:1]), out[:1])
    with pytest.raises(ValueError, match='20'):
        d.embed(torch.randn(3, 5))


@pytest.mark.parametrize('objective', ['mse', 'cosine', 'rkd', 'pkt', 'seed'])
def test_every_peer_trains_the_same_student(objective):
    t, x = _blobs()
    cfg = DistillConfig.from_dict({**SMALL, 'objective': objective, 'epochs': 30,
                                   'queue_size': 64})
    d = GenURLDistiller(t, x, cfg)
    untrained = _overlap(d.embed(), t)
    d.fit()
    assert _overlap(d.embed(), t) > untrained + 0.1, objective
    assert d.embed().shape == (180, 16)


def test_teacher_module_is_called_frozen_on_the_graph():
    t, x = _blobs()
    ei = torch.randint(0, x.size(0), (2, 100))
    calls = []

    class Teacher(torch.nn.Module):
        def forward(self, x_, edge_index):
            calls.append((self.training, torch.is_grad_enabled(), edge_index is ei))
            return t, t[:, :2]  # (h, z): h is the representation
    out = teacher_embeddings(Teacher(), x, ei)
    torch.testing.assert_close(out, t)
    assert calls == [(False, False, True)]


@pytest.mark.parametrize('teacher, match', [
    (torch.randn(10, 4), '10 rows but'),
    (torch.full((180, 4), float('nan')), 'NaN'),
    (torch.randn(180), '2-dimensional'),
    ('embeddings.pt', 'tensor of embeddings or a module'),
])
def test_bad_teacher_is_named(teacher, match):
    _, x = _blobs()
    with pytest.raises((ValueError, TypeError), match=match):
        GenURLDistiller(teacher, x, DistillConfig.from_dict(SMALL))


def test_teacher_weights_that_do_not_fit_are_named(tmp_path):
    src = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
    torch.save(src.state_dict(), tmp_path / 'teacher.pt')
    same = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
    loaded = load_teacher(same, tmp_path / 'teacher.pt')
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.training
    wider = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8))
    with pytest.raises(ValueError, match=r"0.weight: \(32, 20\) given, \(64, 20\) expected"):
        load_teacher(wider, tmp_path / 'teacher.pt')
    with pytest.raises(ValueError, match='missing'):
        load_teacher(torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(),
                                         torch.nn.Linear(32, 8), torch.nn.Linear(8, 8)),
                     tmp_path / 'teacher.pt')
    (tmp_path / 'junk.pt').write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='cannot be read'):
        load_teacher(same, tmp_path / 'junk.pt')


@pytest.mark.parametrize('objective', ['genurl', 'seed'])
def test_resume_gives_the_uninterrupted_result(tmp_path, objective):
    t, x = _blobs()
    cfg = DistillConfig.from_dict({**SMALL, 'epochs': 4, 'objective': objective,
                                   'queue_size': 64, 'feature_mask': 0.2})
    whole = GenURLDistiller(t, x, cfg)
    whole.fit()

    class Stop(Exception):
        pass

    def stop_after_3(epoch, loss):
        if epoch == 3:
            raise Stop
    ckpt = tmp_path / 'ckpt.pt'
    first = GenURLDistiller(t, x, cfg, progress=stop_after_3)
    with pytest.raises(Stop):
        first.fit(ckpt, checkpoint_every=2)
    second = GenURLDistiller(t, x, cfg)
    second.load_checkpoint(ckpt)
    assert second.state.epoch == 2
    second.fit()
    torch.testing.assert_close(second.embed(), whole.embed())
    assert second.state.losses == pytest.approx(whole.state.losses)


def test_checkpoint_of_another_run_is_refused(tmp_path):
    t, x = _blobs()
    cfg = DistillConfig.from_dict({**SMALL, 'epochs': 2})
    d = GenURLDistiller(t, x, cfg)
    d.fit(tmp_path / 'c.pt', checkpoint_every=1)
    with pytest.raises(ValueError, match='different config'):
        GenURLDistiller(t, x, DistillConfig.from_dict({**SMALL, 'epochs': 3})).load_checkpoint(
            tmp_path / 'c.pt')
    with pytest.raises(ValueError, match='different teacher'):
        GenURLDistiller(t + 1, x, cfg).load_checkpoint(tmp_path / 'c.pt')
    (tmp_path / 'bad.pt').write_bytes(b'xx')
    with pytest.raises(ValueError, match='cannot be read'):
        d.load_checkpoint(tmp_path / 'bad.pt')


def test_predefined_graph_joins_p_only_when_asked():
    t, x = _blobs()
    ei = torch.stack([torch.arange(0, 179), torch.arange(1, 180)])
    with pytest.raises(ValueError, match='use_graph'):
        GenURLDistiller(t, x, DistillConfig.from_dict({**SMALL, 'use_graph': True}))
    d = GenURLDistiller(t, x, DistillConfig.from_dict({**SMALL, 'use_graph': True,
                                                       'lam': 0.3}), edge_index=ei)
    plain = GenURLDistiller(t, x, DistillConfig.from_dict(SMALL), edge_index=ei)
    assert d.objective.lam == 0.3 and plain.objective.lam == 0.0
    dense = d.objective.sim.to_dense()
    assert (dense[torch.arange(179), torch.arange(1, 180)] > 0).all()  # every edge is in P


def test_batch_larger_than_the_rows_is_named():
    t, x = _blobs()
    with pytest.raises(ValueError, match='batch_size'):
        GenURLDistiller(t, x, DistillConfig.from_dict({**SMALL, 'batch_size': 500}))


def test_block_pairs_with_every_row_is_the_exact_all_pairs_loss():
    from genurl_pyg.nn import functional as F
    t, x = _blobs(n_per=20)
    cfg = DistillConfig.from_dict({**SMALL, 'pairs': 'block', 'batch_size': 60,
                                   'loss': 'gkl', 'latent_radius': 0,
                                   'anchor_weight': 0})  # the GKL alone, on z itself
    d = GenURLDistiller(t, x, cfg)
    rows = torch.arange(60)
    d.student.eval()
    got = d.objective.loss(lambda r: d.student(x[r]), rows)
    want = F.all_pairs_loss(d.student(x), d.objective.sim.to_dense(), cfg.nu_latent, 'gkl',
                            cfg.alpha)
    torch.testing.assert_close(got, want)
    d.student.train()
    d.fit()
    assert _overlap(d.embed(), t) > 0.3


def test_kl_on_the_sphere_is_the_row_normalised_kl_of_the_block_by_hand():
    """``loss: kl`` + ``latent_radius``: t-SNE's KL between the row-normalised blocks of P
    and of a Student-t Q on the outputs' directions scaled to r, written out here with
    loops instead of the package's loss functions (the kernel's constant C_nu cancels in the
    row normalisation)."""
    t, x = _blobs(n_per=10)
    cfg = DistillConfig.from_dict({**SMALL, 'pairs': 'block', 'batch_size': 30,
                                   'anchor_weight': 0, 'loss': 'kl', 'latent_radius': 3.0})
    d = GenURLDistiller(t, x, cfg)
    d.student.eval()
    rows = torch.tensor([3, 7, 12, 20, 25, 29])
    got = d.objective.loss(lambda r: d.student(x[r]), rows)
    with torch.no_grad():
        z = d.student(x[rows]).double()
        z = 3.0 * z / z.norm(dim=1, keepdim=True)
        p = d.objective.sim.to_dense()[rows][:, rows].double()
        nu = cfg.nu_latent
        want = 0.0
        for i in range(len(rows)):
            q_row = [(1 + (z[i] - z[j]).pow(2).sum() / nu) ** (-(nu + 1))  # the paper's kernel
                     if j != i else 0.0 for j in range(len(rows))]
            qs, ps = sum(q_row), p[i].sum() - p[i, i]
            for j in range(len(rows)):
                if j != i and p[i, j] > 0:
                    pn, qn = p[i, j] / ps, q_row[j] / qs
                    want += pn * torch.log(pn / qn)
        want = want / len(rows)
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-6)
    assert 'loss=kl' in repr(d.objective) and 'latent_radius=3.0' in repr(d.objective)
    # the sphere is scale-free: outputs scaled by 5 give the same loss
    same = d.objective.loss(lambda r: 5 * d.student(x[r]), rows)
    torch.testing.assert_close(same, got)
    d.student.train()
    d.fit()
    assert _overlap(d.embed(), t) > 0.3


@pytest.mark.parametrize('kind,pairs', [('mse', 'block'), ('cosine', 'block'),
                                        ('cosine', 'sampled')])
def test_anchor_weight_adds_the_regression_of_the_anchors(kind, pairs):
    from genurl_pyg.distill.peers import RegressionObjective
    t, x = _blobs()
    base = {**SMALL, 'anchor_weight': 0, 'pairs': pairs}
    plain = GenURLDistiller(t, x, DistillConfig.from_dict(base))
    mixed = GenURLDistiller(t, x, DistillConfig.from_dict({**base, 'anchor_weight': 0.5,
                                                           'anchor_loss': kind}))
    reg = RegressionObjective(t, DistillConfig.from_dict(base), kind)
    mixed.student.load_state_dict(plain.student.state_dict())
    mixed.objective.anchor.head.load_state_dict(reg.head.state_dict())
    for d in (plain, mixed):
        d.student.eval()
    rows = torch.randperm(180, generator=torch.Generator().manual_seed(1))[:60]
    # the same sample of pairs for both (the sampled relation draws from the generator)
    got = mixed.objective.loss(lambda r: mixed.student(x[r]), rows,
                               torch.Generator().manual_seed(2))
    want = (plain.objective.loss(lambda r: plain.student(x[r]), rows,
                                 torch.Generator().manual_seed(2))
            + 0.5 * reg.loss(lambda r: plain.student(x[r]), rows))
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize('pairs', ['block', 'sampled'])
def test_an_anchored_step_runs_the_student_once(pairs):
    # the relation and the coordinate anchor read one forward pass of the student: an
    # epoch of 3 batches calls it 3 times (a second pass for the anchor doubled the cost)
    t, x = _blobs()
    d = GenURLDistiller(t, x, DistillConfig.from_dict({**SMALL, 'pairs': pairs,
                                                       'anchor_weight': 1.0}))
    calls = []
    d.student.register_forward_hook(lambda m, i, o: calls.append(i[0].size(0)))
    d.run_epoch()
    assert len(calls) == 3
    if pairs == 'sampled':  # the pass holds the anchors and their partners
        assert all(c >= 60 for c in calls)


def test_first_pass_picks_out_the_rows_it_encoded():
    from genurl_pyg.distill.objective import FirstPass
    table = torch.randn(50, 4)
    encoded = []

    def encode(rows):
        encoded.append(rows.clone())
        return table[rows] * 2
    first = FirstPass(encode)
    seen = torch.tensor([40, 3, 17, 8, 25, 11])
    torch.testing.assert_close(first(seen), table[seen] * 2)
    first(torch.tensor([1, 2]))  # a later call is not the first pass
    for rows in (seen, torch.tensor([8, 40, 11]), torch.tensor([25])):
        torch.testing.assert_close(first.outputs_of(rows), table[rows] * 2)
    assert len(encoded) == 2  # every row was in the first pass: nothing encoded again
    missing = torch.tensor([3, 4])  # row 4 was never encoded: those rows are encoded
    torch.testing.assert_close(first.outputs_of(missing), table[missing] * 2)
    assert torch.equal(encoded[-1], missing)
    fresh = FirstPass(encode)  # nothing encoded yet: it encodes
    torch.testing.assert_close(fresh.outputs_of(seen), table[seen] * 2)


def test_anchor_weight_auto_resolves_per_kind_of_input(monkeypatch):
    from genurl_pyg.distill.config import AUTO_ANCHOR_WEIGHT, ConfigError
    t, x = _blobs()
    assert DistillConfig().anchor_weight == 'auto' and DistillConfig().anchor_loss == 'auto'
    d = GenURLDistiller(t, x, DistillConfig.from_dict(SMALL))
    # node features: the cosine anchor at weight 1.0 (the held-out validation choice)
    assert d.cfg.anchor_loss == 'cosine'
    assert d.cfg.anchor_weight == AUTO_ANCHOR_WEIGHT['features', 'cosine'] == 1.0
    assert hasattr(d.objective, 'anchor')  # the regression term is part of the loss
    assert d.objective.anchor.kind == 'cosine'
    # an explicit anchor loss takes its own auto weight: mse keeps session 30's 0.1
    mse = DistillConfig(anchor_loss='mse').resolved(images=False)
    assert (mse.anchor_loss, mse.anchor_weight) == ('mse', 0.1)
    assert DistillConfig(anchor_loss='cosine', anchor_weight=0.3).resolved(
        images=False).anchor_weight == 0.3
    images = DistillConfig().resolved(images=True)  # the paper's objective (session 49)
    assert (images.anchor_loss, images.anchor_weight, images.input_weight) == ('cosine', 0.0,
                                                                               0.0)
    assert DistillConfig(anchor_loss='mse').resolved(images=True).anchor_weight == 0.0
    assert DistillConfig().resolved(images=False).input_weight == 0.0
    import genurl_pyg.distill.config as config_module
    monkeypatch.setitem(config_module.AUTO_INPUT_WEIGHT, 'images', 0.5)  # a non-zero auto
    assert DistillConfig().resolved(images=True).input_weight == 0.5
    assert DistillConfig(objective='pkt').resolved(images=True).input_weight == 0.0  # no P
    assert DistillConfig(anchor_weight=0.3).resolved(images=True).anchor_weight == 0.3
    off = GenURLDistiller(t, x, DistillConfig.from_dict({**SMALL, 'anchor_weight': 0}))
    assert not hasattr(off.objective, 'anchor')
    with pytest.raises(ConfigError, match="'anchor_weight' must be a number >= 0 or 'auto'"):
        DistillConfig.from_dict({'anchor_weight': 'high'})
    with pytest.raises(ConfigError, match='anchor_weight'):
        DistillConfig.from_dict({'anchor_weight': -0.1})


def test_a_student_name_is_the_config_key_not_a_module():
    t, x = _blobs()
    data = Data(x=x, edge_index=torch.randint(0, x.size(0), (2, 400)))
    d = distill_node_embeddings(data, t, student='linear', epochs=1, num_layers=1,
                                **{k: v for k, v in SMALL.items() if k != 'epochs'})
    assert d.cfg.student == 'linear' and isinstance(d.student, torch.nn.Linear)


def test_relation_auto_resolves_per_kind_and_keeps_kl_on_the_block():
    """pairs / loss / latent_radius 'auto': node features get the block KL on the sphere of
    AUTO_RELATION (what the objective then computes), images the paper's sampled GKL; an
    explicit choice of one key moves the others to a combination that exists."""
    from genurl_pyg.distill.config import AUTO_RELATION
    t, x = _blobs()
    d = GenURLDistiller(t, x, DistillConfig.from_dict(SMALL))
    feats = AUTO_RELATION['features']
    assert (d.cfg.pairs, d.cfg.loss, d.cfg.latent_radius) == ('block', 'kl', 10.0) == (
        feats['pairs'], feats['loss'], feats['latent_radius'])
    assert isinstance(d.objective.to_q, SphereProjection)
    assert d.objective.to_q.radius == 10.0

    def rel(images=False, **kw):
        c = DistillConfig(**kw).validate().resolved(images)
        return c.pairs, c.loss, c.latent_radius

    assert rel(images=True) == ('sampled', 'gkl', 0.0)
    assert rel(pairs='sampled') == ('sampled', 'gkl', 0.0)  # kl needs the block
    assert rel(loss='gkl') == ('sampled', 'gkl', 0.0)  # the paper's objective
    assert rel(loss='kl') == ('block', 'kl', 10.0)
    assert rel(pairs='block', images=True) == ('block', 'gkl', 0.0)
    assert rel(loss='kl', images=True) == ('block', 'kl', 0.0)  # radius: features only
    assert rel(latent_radius=3.0) == ('block', 'kl', 3.0)
    explicit = DistillConfig(pairs='block', loss='gkl', latent_radius=0.5, anchor_weight=0.2,
                             anchor_loss='mse', input_weight=0.25)
    assert explicit.resolved(False) == explicit.resolved(True) == explicit  # nothing auto


def test_bank_k_joins_the_teacher_banks_code_to_the_students_output():
    from genurl_pyg.distill.bank import TeacherBank
    t, x = _blobs()
    d = GenURLDistiller(t, x, DistillConfig.from_dict(dict(SMALL, epochs=1, bank_k=5)))
    d.fit()
    new = torch.randn(7, 20)
    out = d.embed(new)
    assert out.shape == (7, 16 + 8)
    plain = GenURLDistiller(t, x, DistillConfig.from_dict(dict(SMALL, epochs=1)))
    plain.fit()  # the same seed trains the same student: the bank changes only the read-out
    torch.testing.assert_close(out[:, :16], plain.embed(new))
    torch.testing.assert_close(out[:, 16:], TeacherBank(x, t, 5)(new))
    assert 'bank_k=5' in repr(d)


def test_bank_k_is_refused_where_it_cannot_apply():
    t, x = _blobs(n_per=4)
    with pytest.raises(ValueError, match="'bank_k' \\(12\\) must be smaller than the 12"):
        GenURLDistiller(t, x, DistillConfig.from_dict(dict(SMALL, batch_size=4, bank_k=12)))
    with pytest.raises(Exception, match="bank_k"):
        DistillConfig.from_dict({'bank_k': -1})


def test_batch_neighbours_gives_every_seed_partners_in_the_block():
    t, x = _blobs(n_per=100)  # 300 rows, batches of 30: a uniform batch holds ~1 of 10
    cfg = dict(SMALL, batch_size=30, k=10, epochs=1)
    uniform = GenURLDistiller(t, x, DistillConfig.from_dict(cfg))
    nb = GenURLDistiller(t, x, DistillConfig.from_dict(dict(cfg, batch_neighbours=4)))
    dense = nb.objective.sim.to_dense()

    def partners(d):
        perm = torch.randperm(300, generator=torch.Generator().manual_seed(1))
        batches = list(d._batches(perm, 30))
        return batches, torch.cat([(dense[b][:, b] > 0).sum(1).float() for b in batches])
    u_batches, u = partners(uniform)
    n_batches, n = partners(nb)
    assert len(n_batches) == len(u_batches) == 10  # the same steps per epoch
    assert all(b.numel() <= 30 for b in n_batches)
    assert n.mean() > 2 * u.mean(), (n.mean(), u.mean())
    nb.fit()  # and it trains
    assert len(nb.state.losses) == 1 and torch.isfinite(torch.tensor(nb.state.losses)).all()


def test_batch_neighbours_is_refused_where_it_cannot_apply():
    with pytest.raises(Exception, match="only the genurl objective"):
        DistillConfig.from_dict({'batch_neighbours': 3, 'objective': 'pkt'}).validate()
    with pytest.raises(Exception, match="pairs 'sampled' draws its own positives"):
        DistillConfig.from_dict({'batch_neighbours': 3, 'pairs': 'sampled'}).validate()
    with pytest.raises(Exception, match="must be below 'batch_size'"):
        DistillConfig.from_dict({'batch_neighbours': 8, 'batch_size': 8}).validate()
    with pytest.raises(Exception, match='batch_neighbours'):
        DistillConfig.from_dict({'batch_neighbours': -1}).validate()


def builder_p(rows, k):
    """Dense P of the builder settings the objective uses by default, on ``rows`` alone."""
    from genurl_pyg.structure import SimilarityBuilder
    b = SimilarityBuilder(k=k, metric='euclidean', feature_hops=1, nu=100.0,
                          use_graph=False, seed=0)
    return b.build(rows, None, rows.size(0)).to_dense()


def test_input_weight_mixes_the_inputs_own_p_beside_the_teachers():
    t, x = _blobs(n_per=20)
    cfg = dict(SMALL, batch_size=30, k=8)
    p_t, p_x = builder_p(t, 8), builder_p(x, 8)
    assert not torch.allclose(p_t, p_x)
    for w in (0.3, 1.0):
        d = GenURLDistiller(t, x, DistillConfig.from_dict(dict(cfg, input_weight=w)))
        assert torch.allclose(d.objective.sim.to_dense(), (1 - w) * p_t + w * p_x, atol=1e-6)
    plain = GenURLDistiller(t, x, DistillConfig.from_dict(cfg))
    assert torch.allclose(plain.objective.sim.to_dense(), p_t, atol=1e-6)  # 0: the teacher


def test_input_weight_is_refused_where_it_cannot_apply():
    with pytest.raises(Exception, match="only the genurl objective"):
        DistillConfig.from_dict({'input_weight': 0.5, 'objective': 'cosine'}).validate()
    with pytest.raises(Exception, match='input_weight'):
        DistillConfig.from_dict({'input_weight': 1.5}).validate()
    from genurl_pyg.distill.objective import GenURLObjective
    t, _ = _blobs(n_per=4)
    with pytest.raises(ValueError, match="needs the student's input features"):
        GenURLObjective(t, DistillConfig.from_dict({'input_weight': 0.5, 'k': 3}))


def test_sparse_feature_rows_enter_a_linear_first_student_as_csr():
    """Bag-of-words rows reach the MLP student's first Linear as CSR (O(nnz h)); the
    embeddings are those of the dense rows."""
    from torch_geometric.nn import MLP

    from genurl_pyg.distill.students import embed_rows, reads_sparse_rows
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 400, generator=g) * (torch.rand(300, 400, generator=g) < 0.01)
    teacher = torch.randn(300, 8, generator=g)
    d = GenURLDistiller(teacher, x, DistillConfig.from_dict(dict(SMALL, epochs=1)))
    assert reads_sparse_rows(d.student)
    seen = []
    first = d.student.lins[0]
    hook = first.register_forward_pre_hook(lambda m, a: seen.append(a[0].layout))
    out = d.embed()
    hook.remove()
    assert seen == [torch.sparse_csr]
    dense = embed_rows(d.student, x)  # sparse_rows off: the dense product
    torch.testing.assert_close(out, dense, atol=1e-5, rtol=1e-5)
    # rows that are not sparse stay dense
    busy = torch.rand(50, 400, generator=g)
    torch.testing.assert_close(embed_rows(d.student, busy, sparse_rows=True),
                               embed_rows(d.student, busy))
    assert not reads_sparse_rows(torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(2, 2)))
    assert reads_sparse_rows(torch.nn.Linear(2, 2))
    assert reads_sparse_rows(MLP([4, 8, 2]))
    with pytest.raises(ValueError, match='transform'):
        embed_rows(d.student, x, sparse_rows=True, transform=lambda c: c)


def test_features_stored_sparse_are_embedded_without_a_dense_copy():
    """Rows kept as CSR or COO at rest (a bag-of-words pipeline) give the dense rows'
    embeddings, chunk by chunk, the MLP's first Linear reading CSR; with ``bank_k`` the
    bank's codes too; a NaN among the stored entries is named."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(300, 400, generator=g) * (torch.rand(300, 400, generator=g) < 0.01)
    teacher = torch.randn(300, 8, generator=g)
    d = GenURLDistiller(teacher, x, DistillConfig.from_dict(dict(SMALL, epochs=1, bank_k=5)))
    dense = d.embed(x, batch_size=64)
    seen = []
    hook = d.student.lins[0].register_forward_pre_hook(lambda m, a: seen.append(a[0].layout))
    for stored in (x.to_sparse_csr(), x.to_sparse()):
        torch.testing.assert_close(d.embed(stored, batch_size=64), dense,
                                   atol=1e-5, rtol=1e-5)
    hook.remove()
    assert seen and set(seen) == {torch.sparse_csr} and len(seen) == 2 * 5  # 5 chunks each
    bad = x.clone()
    bad[3, int(x[3].nonzero()[0]) if x[3].any() else 0] = float('nan')
    with pytest.raises(ValueError, match="'x' contains 1 NaN"):
        d.embed(bad.to_sparse_csr())
    with pytest.raises(ValueError, match='399 columns but the student was trained on 400'):
        d.embed(torch.zeros(2, 399).to_sparse_csr())


def test_a_sparse_matrix_is_named_where_dense_features_are_required():
    from genurl_pyg._validation import check_features
    x = torch.eye(3)
    with pytest.raises(ValueError, match="'x' is a sparse"):
        check_features(x.to_sparse_csr(), 'x')
    assert check_features(x.to_sparse(), 'x', sparse=True).layout == torch.sparse_coo
    with pytest.raises(TypeError, match='floating point'):
        check_features(x.long().to_sparse_csr(), 'x', sparse=True)


def test_sparse_feature_rows_are_trained_on_as_csr_with_the_dense_gradients():
    """Bag-of-words training batches reach the MLP's first Linear as CSR (O(nnz h) forward
    and weight gradient): the loss and every gradient are the dense batches' (to float
    rounding; whole runs are not compared: Adam turns the rounding of near-zero gradients,
    e.g. the bias before BatchNorm, into steps of size lr)."""
    g = torch.Generator().manual_seed(2)
    x = torch.rand(240, 500, generator=g) * (torch.rand(240, 500, generator=g) < 0.02)
    teacher = torch.randn(240, 8, generator=g)
    d = GenURLDistiller(teacher, x, DistillConfig.from_dict(dict(SMALL, epochs=2)))
    assert d.sparse_batches
    anchors = torch.arange(60)
    grads = {}
    for sparse in (True, False):
        d.sparse_batches = sparse
        d.student.zero_grad()
        d.objective.zero_grad()
        loss = d.objective.loss(d._encode, anchors, torch.Generator().manual_seed(5))
        loss.backward()
        grads[sparse] = (loss.detach(), {n: p.grad.clone() for n, p in
                                         d.student.named_parameters() if p.grad is not None})
    torch.testing.assert_close(grads[True][0], grads[False][0])
    for name, grad in grads[False][1].items():
        scale = float(grad.abs().max()) + 1e-3
        torch.testing.assert_close(grads[True][1][name], grad, atol=1e-4 * scale + 1e-6,
                                   rtol=1e-4)
    d.sparse_batches = True
    seen = []
    hook = d.student.lins[0].register_forward_pre_hook(lambda m, a: seen.append(a[0].layout))
    d.fit()
    hook.remove()
    assert seen and set(seen) == {torch.sparse_csr}
    busy = GenURLDistiller(teacher, torch.rand(240, 500, generator=g), d.cfg)
    assert not busy.sparse_batches  # dense rows stay dense


@pytest.mark.parametrize('radius', [0.0, 3.0])
def test_projector_sits_between_the_student_and_q_and_embed_reads_before_it(radius):
    """``projector_hidden``: the loss is the plain objective's on the head's outputs (the
    head written out by hand: Linear-BN-ReLU-Linear, then the sphere when r > 0), the
    embedding stays the student's ``out_channels``-wide output, the head trains with the
    student, and training still recovers the teacher's neighbourhoods."""
    from genurl_pyg.nn import functional as F
    t, x = _blobs(n_per=20)
    base = {**SMALL, 'pairs': 'block', 'batch_size': 60, 'loss': 'gkl', 'anchor_weight': 0,
            'latent_radius': radius}
    d = GenURLDistiller(t, x, DistillConfig.from_dict({**base, 'projector_hidden': 24,
                                                       'projector_out': 5}))
    head = d.objective.to_q.inner if radius else d.objective.to_q
    d.student.eval()
    d.objective.eval()
    rows = torch.arange(60)
    got = d.objective.loss(lambda r: d.student(x[r]), rows)
    with torch.no_grad():
        bn = head[1]
        a = d.student(x) @ head[0].weight.T
        a = (a - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
        z = a.clamp_min(0) @ head[3].weight.T + head[3].bias
        if radius:
            z = radius * z / z.norm(dim=1, keepdim=True)
        want = F.all_pairs_loss(z, d.objective.sim.to_dense(), d.cfg.nu_latent, 'gkl',
                                d.cfg.alpha)
    torch.testing.assert_close(got, want)
    assert z.size(1) == 5 and d.embed().shape == (60, 16)  # the probes read before the head
    d.student.train()
    d.objective.train()
    before = head[0].weight.clone()
    d.fit()
    assert not torch.equal(before, head[0].weight)  # the optimiser reaches the head
    assert _overlap(d.embed(), t) > 0.3
    assert 'ProjectionHead(16, 24, 5)' in repr(d.objective)
