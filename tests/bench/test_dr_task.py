import pytest

from genurl_pyg.bench.tasks.dr import make


def test_benchmark_only_methods_set_their_option():
    assert make('genurl-np-ls', seed=3).neighbor_scaling == 'local'
    assert make('genurl-np-block').repulsion == 'block'
    default = make('genurl-np', seed=3)
    assert default.neighbor_scaling == 'auto' and not default.parametric
    assert make('genurl-np-exact').neighbor_scaling is None
    assert default.random_state == 3
    with pytest.raises(ValueError, match='unknown DR method'):
        make('genurl-np-typo')
