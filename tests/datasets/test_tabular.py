import numpy as np
import pytest

from genurl_pyg.datasets.tabular import check_labels, load_table


def _csv(tmp_path, text, name='d.csv'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_csv_shapes_stay_two_dimensional(tmp_path):
    X, _ = load_table(_csv(tmp_path, 'a,b\n1,2\n3,4\n'))
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    X, _ = load_table(_csv(tmp_path, 'v\n1\n2\n3\n'))  # one column: n rows, 1 feature
    assert X.shape == (3, 1)
    X, _ = load_table(_csv(tmp_path, '1,2,3\n'))  # one row: 1 sample, 3 features
    assert X.shape == (1, 3)


@pytest.mark.parametrize('text, match', [
    ('', 'is empty'),
    ('\n\n', 'is empty'),
    ('a,b\n', 'header row but no data rows'),
    ('a,b\n1,x\n', r"column 2 \('b'\) holds text \('x' on line 2\)"),
    ('1,2\n3\n', 'line 2 has 1 columns'),
])
def test_bad_csv_is_named(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        load_table(_csv(tmp_path, text))


def test_folder_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match='is a folder'):
        load_table(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_table(str(tmp_path / 'nope.csv'))
    (tmp_path / 'bad.npy').write_bytes(b'not numpy')
    with pytest.raises(ValueError, match='not a readable .npy'):
        load_table(str(tmp_path / 'bad.npy'))


@pytest.mark.parametrize('y, match', [
    (np.zeros(6), 'single class'),
    (np.arange(6), 'every row its own class'),
    (np.array([0, 1, np.nan, 0, 1, 0]), 'NaN'),
    (np.array([0, 1, 0.5, 0, 1, 0]), 'whole-number'),
    (np.array(['a', 'b', 'a', 'b', 'a', 'b']), 'numbers'),
    (np.array([0, 1, 0]), '3 entries but the data has 6 rows'),
])
def test_unusable_labels(y, match):
    with pytest.raises(ValueError, match=f'--labels.*{match}|{match}'):
        check_labels(y, 6)


def test_good_labels_become_integers():
    out = check_labels(np.array([0., 1., 1., 0.]), 4)
    assert out.dtype == np.int64 and list(out) == [0, 1, 1, 0]
