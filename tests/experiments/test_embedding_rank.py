"""experiments/embedding_rank.py: the effective rank against hand-made spectra, and one
end-to-end row on KarateClub."""
import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import embedding_rank as er  # noqa: E402


def test_effective_rank_of_known_spectra():
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(200, 8, generator=g, dtype=torch.float64))
    q = q - q.mean(0)  # centred orthogonal-ish columns
    equal = q @ torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=torch.float64))[0]
    rank, top10 = er.spectrum(equal)
    assert rank == pytest.approx(8.0, rel=0.02) and top10 == pytest.approx(1.0)
    one = torch.randn(200, 1, generator=g) * torch.ones(1, 5)  # five copies of one column
    assert er.spectrum(one)[0] == pytest.approx(1.0, abs=1e-6)
    two = torch.cat([torch.randn(300, 1, generator=g) * 3, torch.randn(300, 1, generator=g)], 1)
    s2 = torch.linalg.svdvals(two.double() - two.double().mean(0)).pow(2)
    p = s2 / s2.sum()
    assert er.spectrum(two)[0] == pytest.approx(math.exp(-(p * p.log()).sum().item()))


def test_a_row_on_karateclub():
    row = er.measure('KarateClub', 'sgc', 0)
    assert row['dim'] == 34 and 1.0 <= row['effective_rank'] <= 34.0
    assert 0.0 < row['top10_share'] <= 1.0 and 0.0 <= row['val_accuracy'] <= 1.0
    md = er._markdown({'commands': ['x'], 'threads': 1, 'rows': [row]})
    assert '| KarateClub | sgc | 1 | 34 |' in md


def test_overrides_reach_the_method_and_the_label_names_the_row(monkeypatch):
    import genurl_pyg.bench.tasks.graph_methods as gm
    seen = []
    real = gm.embed_nodes

    def spy(method, data, dataset, seed, params, deadline):
        seen.append(dict(params))
        return real(method, data, dataset, seed, params, deadline)

    monkeypatch.setattr(gm, 'embed_nodes', spy)
    row = er.measure('KarateClub', 'sgc', 0, {'hops': 1}, 'sgc-1hop')
    assert seen == [{'hops': 1}]
    assert row['method'] == 'sgc-1hop' and row['params'] == {'hops': 1}


def test_set_items_are_parsed_as_json_and_malformed_ones_named():
    from _bench_utils import parse_overrides
    errors = []

    def error(msg):
        errors.append(msg)
        raise SystemExit(2)

    assert parse_overrides(['repulsion="student_t"', 'decorrelation_probes=0', 'x=[1, 2]'],
                           error) == {'repulsion': 'student_t', 'decorrelation_probes': 0,
                                      'x': [1, 2]}
    for item, message in (('probes', 'expected KEY=JSON'),
                          ('repulsion=student_t', 'the value is not JSON')):
        with pytest.raises(SystemExit):
            parse_overrides([item], error)
        assert message in errors[-1] and repr(item) in errors[-1]
