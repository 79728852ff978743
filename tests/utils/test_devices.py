import pytest
import torch

from genurl_pyg.utils.devices import resolve_device


def test_cpu_and_auto_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert resolve_device('cpu') == torch.device('cpu')
    assert resolve_device('auto') == torch.device('cpu')


def test_auto_takes_cuda_where_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert resolve_device('auto') == torch.device('cuda')


@pytest.mark.parametrize('what', ['config', 'ssl config'])
def test_missing_cuda_names_the_key_and_value(monkeypatch, what):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(ValueError, match=f"{what} 'device' is 'cuda:1' but CUDA is not"):
        resolve_device('cuda:1', what)
