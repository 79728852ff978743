import pytest
import torch

from genurl_pyg.utils.devices import native_bfloat16, resolve_device


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


@pytest.mark.parametrize('avx512_bf16, amx, want', [(True, False, True), (False, True, True),
                                                    (False, False, False)])
def test_native_bfloat16_on_a_cpu_reads_its_probes(monkeypatch, avx512_bf16, amx, want):
    monkeypatch.setattr(torch.cpu, '_is_avx512_bf16_supported', lambda: avx512_bf16,
                        raising=False)
    monkeypatch.setattr(torch.cpu, '_is_amx_tile_supported', lambda: amx, raising=False)
    assert native_bfloat16(torch.device('cpu')) is want


def test_native_bfloat16_is_false_when_torch_cannot_tell(monkeypatch):
    def broken():
        raise RuntimeError('no cpuinfo')
    monkeypatch.setattr(torch.cpu, '_is_avx512_bf16_supported', broken, raising=False)
    assert native_bfloat16(torch.device('cpu')) is False
    monkeypatch.delattr(torch.cpu, '_is_avx512_bf16_supported', raising=False)
    monkeypatch.delattr(torch.cpu, '_is_amx_tile_supported', raising=False)
    assert native_bfloat16(torch.device('cpu')) is False


def test_native_bfloat16_on_cuda_asks_torch(monkeypatch):
    asked = []

    def supported(including_emulation=True):
        asked.append(including_emulation)
        return not including_emulation and answer
    for answer in (True, False):
        monkeypatch.setattr(torch.cuda, 'is_bf16_supported', supported)
        assert native_bfloat16(torch.device('cuda')) is answer
    assert asked == [False, False]  # emulated bfloat16 does not count
    assert native_bfloat16(torch.device('meta')) is False
