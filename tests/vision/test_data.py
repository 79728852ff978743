import pytest
import torch

from genurl_pyg.vision.data import ImageData, load_images


def test_fashion_mnist_decodes_once_into_a_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('GENURL_DATA', str(tmp_path))
    data = load_images('Fashion-MNIST')
    assert data.train_x.shape == (60000, 1, 28, 28) and data.test_x.shape == (10000, 1, 28, 28)
    assert data.train_x.dtype == torch.uint8 and data.train_y.dtype == torch.int64
    assert torch.bincount(data.train_y).tolist() == [6000] * 10  # the README's check
    mean, std = data.channel_stats()
    assert mean.item() == pytest.approx(0.2860, abs=1e-4)  # the published pixel mean
    cache = tmp_path / 'fashion_mnist' / 'processed' / 'images_fashion-mnist.pt'
    assert cache.is_file()
    for raw in (tmp_path / 'fashion_mnist').rglob('*.gz'):
        raw.unlink()  # a second load reads only the cache
    again = load_images('fashion-mnist')
    assert torch.equal(again.train_x, data.train_x) and again.classes == data.classes


def test_mnist_test_set_is_split_by_a_fixed_permutation(tmp_path, monkeypatch):
    monkeypatch.setenv('GENURL_DATA', str(tmp_path))
    data = load_images('mnist-test')
    assert (data.train_x.size(0), data.test_x.size(0)) == (8000, 2000)
    counts = torch.bincount(torch.cat([data.train_y, data.test_y]))
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert 'fixed permutation' in data.note


def test_unknown_and_missing_sets_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv('GENURL_DATA', str(tmp_path))
    monkeypatch.delenv('GENURL_DATA_MIRROR', raising=False)
    with pytest.raises(ValueError, match="unknown image data set 'imagenet'.*cifar10-jpeg"):
        load_images('imagenet')
    with pytest.raises(FileNotFoundError, match='Fashion-MNIST.*GENURL_DATA_MIRROR'):
        load_images('fashion-mnist')


def test_image_data_reports_its_shape():
    d = ImageData('toy', torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(4).long(),
                  torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.zeros(2).long(), ['a'])
    assert d.shape == (3, 8, 8) and d.num_classes == 1 and 'train 4' in repr(d)
