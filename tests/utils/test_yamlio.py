import math

import pytest
import yaml

from genurl_pyg.utils.yamlio import parse_key_values, safe_load


@pytest.mark.parametrize('text, value', [
    ('1e-3', 1e-3), ('5e4', 5e4), ('+1E+3', 1e3), ('0.5e-2', 5e-3), ('.5', 0.5), ('1.', 1.0),
    ('3', 3), ('-2', -2), ('0x1F', 31), ('1_000', 1000), ('true', True), ('abc', 'abc'),
    ('[1e-3, 2]', [1e-3, 2]), ('{lr: 1e-3}', {'lr': 1e-3}),
])
def test_yaml_12_numbers(text, value):
    out = safe_load(text)
    assert out == value and type(out) is type(value)


def test_non_finite_spellings_and_plain_yaml_untouched():
    assert math.isinf(safe_load('.inf')) and safe_load('-.inf') < 0
    assert math.isnan(safe_load('.nan'))
    assert yaml.safe_load('1e-3') == '1e-3'  # PyYAML's own loader is not modified


def test_key_values_are_read_as_yaml_and_bad_items_name_the_flag():
    assert parse_key_values(['lr=1e-3', ' k =3', 'crop_scale=[0.5,1]', 'name=a=b']) == {
        'lr': 1e-3, 'k': 3, 'crop_scale': [0.5, 1], 'name': 'a=b'}
    assert parse_key_values([]) == {}
    with pytest.raises(ValueError, match=r"--view expects KEY=VALUE, got 'crop_scale'"):
        parse_key_values(['crop_scale'], '--view')

    class Refused(ValueError):
        pass
    with pytest.raises(Refused, match=r"--set lr: cannot parse '\[1': "):
        parse_key_values(['lr=[1'], error=Refused)
