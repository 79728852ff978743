"""experiments/kd_inference_speed.py: the teacher and student it times are the data set's
default GCN and distillation MLP, the speed-up is their ratio, and only Physics is judged
against the 10x target."""
import sys
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
import kd_inference_speed as ks  # noqa: E402


@pytest.fixture
def small_graph(monkeypatch):
    import genurl_pyg.datasets as datasets
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(120, 1433, generator=g) < 0.02).float()
    edges = torch.randint(0, 120, (2, 600), generator=g)
    data = Data(x=x, edge_index=torch.cat([edges, edges.flip(0)], 1),
                y=torch.randint(0, 3, (120,), generator=g))
    monkeypatch.setattr(datasets, 'load_dataset', lambda name: data)
    monkeypatch.setattr(ks, 'NEW_ROWS', 50)
    return data


def test_time_pair_times_the_default_pair(small_graph):
    row = ks.time_pair('Cora', repeats=1)
    assert row['nodes'] == 120 and row['features'] == 1433
    assert row['student'] == 'MLP 1433-512-512 (2 layers)'  # the distillation defaults
    assert row['teacher'].startswith('GenURL(')
    assert row['speedup'] == pytest.approx(row['teacher_full_s'] / row['student_full_s'])
    assert row['speedup_new_rows'] == pytest.approx(row['teacher_full_s']
                                                    / row['student_new_s'])
    assert row['speedup_dense_layout'] == pytest.approx(row['teacher_dense_s']
                                                        / row['student_dense_s'])
    assert row['feature_density'] == pytest.approx(float((small_graph.x != 0).float().mean()))
    for key in ('teacher_full_s', 'student_full_s', 'student_new_s', 'student_csr_at_rest_s',
                'teacher_dense_s', 'student_dense_s'):
        assert row[key] > 0


def test_dense_layout_restores_the_threshold_even_on_error():
    from genurl_pyg.node import inputs
    before = inputs.SPARSE_INPUT_DENSITY
    with pytest.raises(RuntimeError):
        with ks.dense_layout():
            assert inputs.SPARSE_INPUT_DENSITY == 0.0
            assert inputs.csr_if_sparse(torch.zeros(4, 4)).layout == torch.strided
            raise RuntimeError('inside')
    assert inputs.SPARSE_INPUT_DENSITY == before


def test_only_physics_is_judged():
    rows = [dict(dataset=name, nodes=10, edges=20, features=5, feature_density=0.01,
                 teacher_full_s=1.0, student_full_s=s, student_new_s=s,
                 student_csr_at_rest_s=s, teacher_dense_s=2.0, student_dense_s=1.0,
                 speedup=1.0 / s, speedup_new_rows=1.0 / s, speedup_dense_layout=2.0)
            for name, s in (('Cora', 0.5), ('Physics', 0.2), ('physics', 0.05))]
    lines = ks.table(rows, 'cmd', 1).splitlines()
    cora, slow, fast = (ln for ln in lines if ln.startswith(('| Cora', '| Physics', '| physics')))
    assert cora.endswith('|  |') and '2.000 / 1.000 (2.0x)' in cora
    assert '**missed** (>= 10x)' in slow and '5.0x' in slow
    assert '| met (>= 10x)' in fast and '20.0x' in fast


def test_bad_arguments_are_refused():
    with pytest.raises(SystemExit):
        ks.main(['--repeats', '0'])
    with pytest.raises(SystemExit):
        ks.main(['--out', '../elsewhere'])


def test_other_student_architectures_are_timed_as_stored_and_at_rest(small_graph):
    row = ks.time_pair('Cora', repeats=1,
                       students=[('h32', {'hidden_channels': 32, 'out_channels': 16}),
                                 ('linear', {'num_layers': 1, 'out_channels': 64})])
    narrow, linear = row['students']
    assert narrow['student'] == 'MLP 1433-32-16 (2 layers)'
    # 1433*32 + 32 weights and bias, BatchNorm's 2*32, PReLU's 1, 32*16 + 16
    assert narrow['parameters'] == 1433 * 32 + 32 + 2 * 32 + 1 + 32 * 16 + 16
    assert linear['parameters'] == 1433 * 64 + 64 + 1  # PyG's MLP keeps its PReLU's weight
    assert row['student_parameters'] == 1433 * 512 + 512 + 2 * 512 + 1 + 512 * 512 + 512
    assert narrow['speedup'] == pytest.approx(row['teacher_full_s'] / narrow['stored_s'])
    assert narrow['speedup_at_rest'] == pytest.approx(row['teacher_csr_at_rest_s']
                                                      / narrow['at_rest_s'])
    assert row['speedup_at_rest'] == pytest.approx(row['teacher_csr_at_rest_s']
                                                   / row['student_csr_at_rest_s'])
    row['dataset'] = 'Physics'
    md = ks.table([row], 'cmd', 1)
    lines = [ln for ln in md.splitlines() if ln.startswith('| Physics | ')][1:]  # widths
    assert len(lines) == 3 and 'default: MLP 1433-512-512' in lines[0]
    assert 'h32: MLP 1433-32-16 (2 layers)' in lines[1] and ' / ' in lines[1]
    assert 'linear: MLP 1433-64 (1 layer)' in lines[2]
    assert row['read_s'] > 0 and f"Physics {row['read_s']:.3f} s" in md


def test_a_malformed_student_is_refused():
    with pytest.raises(SystemExit):
        ks.main(['--student', '=hidden_channels=3'])
