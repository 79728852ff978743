"""The design study's row logic: ablation rows that would not change the run are skipped,
relative overrides scale the chosen value, and the incumbent lies inside the search space."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import node_study  # noqa: E402


def test_relative_overrides_scale_the_chosen_value():
    chosen = {'nu_latent': 2.0, 'use_features': True}
    assert node_study._resolve('Cora', chosen, {'nu_latent': '*10'})['nu_latent'] == 20.0
    assert node_study._resolve('Cora', chosen, {'nu_latent': '/10'})['nu_latent'] == 0.2


def test_rows_that_change_nothing_are_skipped():
    chosen = {'use_features': False, 'num_layers': 2}
    assert node_study._resolve('Cora', chosen, {'use_features': False}) is None
    assert node_study._resolve('Cora', chosen, {'num_layers': 2}) is None
    # lam weighs feature against graph P: meaningless without the feature part.
    assert node_study._resolve('Cora', chosen, {'lam': 0.5}) is None
    assert node_study._resolve('Cora', chosen, {'use_features': True, 'lam': 'auto'}) == \
        {'use_features': True, 'lam': 'auto', 'num_layers': 2}
    assert node_study._resolve('Cora', chosen, {}) == chosen


@pytest.mark.parametrize('dataset', ['Cora', 'CiteSeer', 'Photo'])
def test_incumbent_lies_in_the_space(dataset):
    inc = node_study._incumbent(dataset)
    for name, value in inc.items():
        kind, spec = node_study.SPACE[name]
        assert value in spec if kind == 'cat' else spec[0] <= value <= spec[1]


@pytest.mark.parametrize('dataset', ['Cora', 'CiteSeer'])
def test_every_ablation_row_is_a_valid_config(dataset):
    from genurl_pyg.node import NodeConfig, dataset_defaults
    chosen = node_study._incumbent(dataset)
    for label, overrides in node_study.ABLATIONS:
        params = node_study._resolve(dataset, chosen, overrides)
        if params is not None:
            NodeConfig.from_dict(params, base=dataset_defaults(dataset))  # raises if not
