import pytest

from genurl_pyg.node.config import ConfigError, NodeConfig, checked_keys, dataset_defaults


def test_defaults_validate_and_round_trip(tmp_path):
    cfg = NodeConfig()
    path = tmp_path / 'c.yaml'
    path.write_text(cfg.to_yaml())
    assert NodeConfig.from_yaml(path) == cfg


@pytest.mark.parametrize('key, value', [
    ('lam', 1.5), ('lam', 'often'), ('encoder', 'cnn'), ('k', 0), ('epochs', 2.5),
    ('feature_mask', 1.0), ('nu_latent', 0), ('views', 'yes'), ('loss', 'hinge'),
    ('batch_mode', 'mini'), ('feature_norm', 'l2'), ('knn_input_hops', 'often'),
    ('knn_input_hops', -1), ('knn_input_hops', 1.5), ('neighbor_scaling', 'global'),
    ('encoder_input_hops', -1), ('encoder_input_hops', 1.5), ('encoder_input_hops', 'auto'),
])
def test_bad_values_name_the_key(key, value):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        NodeConfig.from_dict({key: value})


def test_incompatible_combinations():
    with pytest.raises(ConfigError, match='use_features'):
        NodeConfig(use_features=False, use_graph=False)
    with pytest.raises(ConfigError, match='batch_mode'):
        NodeConfig(loss='kl', batch_mode='sampled')
    with pytest.raises(ConfigError, match='unknown config key'):
        NodeConfig.from_dict({'learning_rate': 0.1})
    # Dynamic P refreshes P's feature part: without one, every refresh would be a no-op.
    with pytest.raises(ConfigError, match="'dynamic: true' needs 'use_features: true'"):
        NodeConfig(dynamic=True, use_features=False)


def test_checked_keys_names_every_unknown_key_with_its_closest_known_one():
    given = {'k': 5, 'epochs': 3}
    out = checked_keys(given, NodeConfig, 'config key')
    assert out == given and out is not given  # a copy: the caller's mapping is not touched
    assert checked_keys(None, NodeConfig, 'config key') == {}
    with pytest.raises(ConfigError) as err:
        checked_keys({'epoch': 1, 'colour': 2, 'k': 3}, NodeConfig, 'option', '; see the docs')
    assert str(err.value) == ("unknown option(s) 'colour', 'epoch' (did you mean 'epochs'?)"
                              "; see the docs")


def test_yaml_file_errors(tmp_path):
    with pytest.raises(ConfigError, match='does not exist'):
        NodeConfig.from_yaml(tmp_path / 'none.yaml')
    p = tmp_path / 'list.yaml'
    p.write_text('- 1\n- 2\n')
    with pytest.raises(ConfigError, match='mapping'):
        NodeConfig.from_yaml(p)


@pytest.mark.parametrize('name', ['Cora', 'CiteSeer', 'DBLP', 'Computers', 'Photo', 'CS',
                                  'cornell5', 'reed98'])
def test_shipped_dataset_configs_are_valid(name):
    assert isinstance(dataset_defaults(name), NodeConfig)


def test_a_partial_dataset_config_keeps_the_package_defaults():
    # cornell5.yaml and reed98.yaml set only the encoder: its run is the package defaults with the
    # encoder forced (what the heterophily benchmark's forced ego-GCN rows ran).
    for name in ('cornell5', 'reed98'):
        assert dataset_defaults(name) == NodeConfig.from_dict({'encoder': 'ego-gcn'})
