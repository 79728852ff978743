import pytest

from genurl_pyg.distill import DistillConfig
from genurl_pyg.node.config import ConfigError


def test_defaults_validate_and_round_trip_through_yaml(tmp_path):
    cfg = DistillConfig.from_dict({'objective': 'rkd', 'lr': 1e-3, 'lam': 0.4})
    path = tmp_path / 'kd.yaml'
    path.write_text(cfg.to_yaml())
    assert DistillConfig.from_yaml(path) == cfg


@pytest.mark.parametrize('values, match', [
    ({'objective': 'dino'}, "'objective' must be one of"),
    ({'student': 'gcn'}, "'student' must be one of"),
    ({'epochs': 0}, "'epochs' must be an integer >= 1"),
    ({'lr': 0}, "'lr' must be in"),
    ({'lam': 1.5}, "'lam' must be in"),
    ({'lam': 'half'}, "'lam' must be a number"),
    ({'negatives': 'hard'}, "'negatives' must be one of"),
    ({'use_graph': 'yes'}, "'use_graph' must be true or false"),
    ({'objective': 'rkd', 'rkd_distance': 0, 'rkd_angle': 0}, 'nothing to learn'),
    ({'student': 'linear', 'num_layers': 2}, "student 'linear' has one layer"),
    ({'epoch': 3}, "did you mean 'epochs'"),
    ({'loss': 'infonce'}, "'loss' must be one of"),
    ({'anchor_loss': 'huber'}, "'anchor_loss' must be one of"),
    ({'loss': 'kl', 'pairs': 'sampled'}, "loss 'kl' .* needs pairs 'block'"),
    ({'latent_radius': -1}, "'latent_radius' must be in"),
    ({'latent_radius': 'big'}, "'latent_radius' must be a number >= 0 or 'auto'"),
    ({'pairs': 'all'}, "'pairs' must be one of"),
    ({'projector_hidden': -1}, "'projector_hidden' must be an integer >= 0"),
    ({'projector_out': 0}, "'projector_out' must be an integer >= 1"),
    ({'objective': 'mse', 'projector_hidden': 64}, "'projector_hidden' .* objective 'mse'"),
])
def test_bad_values_are_named(values, match):
    with pytest.raises(ConfigError, match=match):
        DistillConfig.from_dict(values)


def test_yaml_that_is_not_a_mapping_is_named(tmp_path):
    path = tmp_path / 'kd.yaml'
    path.write_text('- 1\n- 2\n')
    with pytest.raises(ConfigError, match='mapping'):
        DistillConfig.from_yaml(path)
    with pytest.raises(ConfigError, match='does not exist'):
        DistillConfig.from_yaml(tmp_path / 'missing.yaml')


def test_a_graphs_distillation_defaults_file_is_read_and_the_others_get_the_package_ones(
        tmp_path, monkeypatch):
    import genurl_pyg.distill.config as config
    from genurl_pyg.distill import distill_defaults
    monkeypatch.setattr(config, 'DISTILL_CONFIGS', tmp_path)
    (tmp_path / 'photo.yaml').write_text('anchor_weight: 0.3\n')
    assert distill_defaults('Photo').anchor_weight == 0.3
    assert distill_defaults('photo') == distill_defaults('Photo')
    assert distill_defaults('Cora') == DistillConfig()  # no file: the package defaults
    (tmp_path / 'cora.yaml').write_text('anchor_wieght: 0.3\n')
    with pytest.raises(ConfigError, match='anchor_wieght'):  # a bad file is named, not skipped
        distill_defaults('Cora')


def test_the_cli_puts_its_flags_over_the_graphs_defaults(tmp_path, monkeypatch):
    import genurl_pyg.distill.config as config
    import genurl_pyg.distill.run as run
    from genurl_pyg.cli import main
    configs = tmp_path / 'configs'
    configs.mkdir()
    (configs / 'photo.yaml').write_text('anchor_weight: 0.3\n')
    monkeypatch.setattr(config, 'DISTILL_CONFIGS', configs)
    seen = []

    def fake_job(dataset, teacher, cfg, seeds, out, **kw):
        seen.append(cfg)
        acc = {'mean': 0.5, 'std': 0.0}
        return {'dataset': dataset, 'setting': 'transductive', 'seeds': [0],
                'student_accuracy': acc, 'teacher_accuracy': acc,
                'student_seconds': {'mean': 1.0}}

    monkeypatch.setattr(run, 'distill_job', fake_job)
    base = ['distill', '--teacher', 'genurl', '--out', str(tmp_path / 'out'), '--no-progress']
    assert main(base + ['--dataset', 'Photo']) == 0
    assert main(base + ['--dataset', 'Photo', '--set', 'anchor_weight=0.05']) == 0
    assert main(base + ['--dataset', 'Cora']) == 0
    assert [c.anchor_weight for c in seen] == [0.3, 0.05, 'auto']


def test_the_shipped_graph_files_hold_what_their_comments_say():
    from genurl_pyg.distill import distill_defaults
    # Computers: P from the student input's kNN (kd_inductive_input_computers.md)
    assert distill_defaults('Computers').input_weight == 1.0
    assert distill_defaults('Computers').objective == 'genurl'
    # the package default: the teacher's P for node features (images: AUTO_INPUT_WEIGHT)
    assert DistillConfig().resolved(images=False).input_weight == 0.0
    for graph in ('amherst41', 'johnshopkins55'):  # chosen on fresh held-out seeds
        assert distill_defaults(graph).input_weight == 1.0
    assert distill_defaults('reed98') == DistillConfig()  # the same family, read -7.41


def test_every_shipped_distillation_file_names_a_registered_graph_and_validates():
    """A per-graph file is found by the data set's lower-cased name: one named after no
    registered graph (a typo, a renamed set) would be ignored without a word."""
    from genurl_pyg.datasets.registry import DATASETS
    from genurl_pyg.distill import distill_defaults
    from genurl_pyg.distill.config import DISTILL_CONFIGS
    files = sorted(DISTILL_CONFIGS.glob('*.yaml'))
    assert files, 'no shipped per-graph distillation file found'
    for path in files:
        assert path.stem in DATASETS, f'{path.name} names no registered data set'
        cfg = distill_defaults(path.stem)
        assert cfg.validate() == cfg and cfg != DistillConfig()
