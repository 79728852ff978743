import json

import pytest
import torch

from genurl_pyg.cli import main
from genurl_pyg.distill import DistillConfig
from genurl_pyg.distill.graph import inductive_split, observed_masks, observed_subgraph
from genurl_pyg.distill.run import distill_job

TINY = DistillConfig.from_dict({'hidden_channels': 16, 'out_channels': 8, 'epochs': 3,
                                'batch_size': 16, 'k': 5})


def _teacher_file(tmp_path, rows=34, name='t.pt'):
    path = tmp_path / name
    torch.save(torch.randn(rows, 6), path)
    return path


def test_job_writes_result_and_resume_skips_finished_seeds(tmp_path):
    teacher = _teacher_file(tmp_path)
    out = tmp_path / 'run'
    r = distill_job('KarateClub', str(teacher), TINY, 2, out, log=lambda m: None)
    assert r['seeds'] == [0, 1] and len(r['per_seed']) == 2
    for key in ('student_accuracy', 'teacher_accuracy', 'student_inference_seconds'):
        assert 0 <= r[key]['mean'] and r[key]['std'] >= 0
    assert json.loads((out / 'result.json').read_text())['setting'] == 'transductive'
    assert torch.load(out / 'embeddings' / 'seed1.pt').shape == (34, 8)
    logs = []
    again = distill_job('KarateClub', str(teacher), TINY, 2, out, resume=True, log=logs.append)
    assert again['per_seed'] == r['per_seed']
    assert sum('already finished' in m for m in logs) == 2
    with pytest.raises(FileExistsError, match='--resume'):
        distill_job('KarateClub', str(teacher), TINY, 2, out, log=lambda m: None)
    other = DistillConfig.from_dict({'epochs': 4}, base=TINY)
    with pytest.raises(ValueError, match='different distill run'):
        distill_job('KarateClub', str(teacher), other, 2, out, resume=True, log=lambda m: None)


def test_a_bank_student_is_saved_with_its_bank_and_reloads_to_the_same_embeddings(tmp_path):
    from torch_geometric.datasets import KarateClub
    from genurl_pyg.distill.bank import TeacherBank
    from genurl_pyg.distill.students import build_student, embed_rows
    teacher = _teacher_file(tmp_path)
    out = tmp_path / 'run'
    cfg = DistillConfig.from_dict({'bank_k': 4}, base=TINY)
    distill_job('KarateClub', str(teacher), cfg, 1, out, log=lambda m: None)
    emb = torch.load(out / 'embeddings' / 'seed0.pt')
    assert emb.shape == (34, 8 + 6)
    student = build_student(34, cfg.resolved(images=False))
    student.load_state_dict(torch.load(out / 'students' / 'seed0.pt'))
    bank = TeacherBank.from_state_dict(torch.load(out / 'students' / 'seed0_bank.pt'))
    x = KarateClub()[0].x
    torch.testing.assert_close(torch.cat([embed_rows(student, x), bank(x)], 1), emb)
    with pytest.raises(ValueError, match="not a TeacherBank state: \\['basis'"):
        TeacherBank.from_state_dict({'keys': x, 'values': x, 'k': 3, 'in_channels': 34})


def test_teacher_from_a_train_run_folder_reads_each_seeds_embeddings(tmp_path):
    run = tmp_path / 'train_run'
    (run / 'embeddings').mkdir(parents=True)
    for seed in (0, 1):
        torch.save(torch.randn(34, 4) + seed, run / 'embeddings' / f'seed{seed}.pt')
    r = distill_job('KarateClub', str(run), TINY, 2, tmp_path / 'o', log=lambda m: None)
    assert len(r['per_seed']) == 2


@pytest.mark.parametrize('rows, content, match', [
    (10, None, '10 rows'), (34, 'nan', 'NaN'), (34, 'junk', 'cannot be read')])
def test_bad_teacher_files_are_named(tmp_path, rows, content, match):
    path = _teacher_file(tmp_path, rows)
    if content == 'nan':
        torch.save(torch.full((34, 3), float('nan')), path)
    elif content == 'junk':
        path.write_bytes(b'not torch')
    with pytest.raises(ValueError, match=match):
        distill_job('KarateClub', str(path), TINY, 1, tmp_path / 'o', log=lambda m: None)
    assert not (tmp_path / 'o' / 'result.json').exists()


def test_inductive_setting_needs_a_teacher_trained_here(tmp_path):
    with pytest.raises(ValueError, match='--teacher genurl'):
        distill_job('KarateClub', str(_teacher_file(tmp_path)), TINY, 1, tmp_path / 'o',
                    setting='inductive', log=lambda m: None)


def test_inductive_split_holds_out_test_nodes_only():
    test = torch.zeros(100, dtype=torch.bool)
    test[40:90] = True
    held = inductive_split(test, 0.2, seed=3)
    assert held.sum() == 10 and (test[held]).all()
    assert torch.equal(held, inductive_split(test, 0.2, seed=3))
    from torch_geometric.data import Data
    ei = torch.tensor([[0, 1, 45, 50], [1, 2, 46, 51]])
    data = Data(x=torch.randn(100, 3), edge_index=ei, y=torch.arange(100))
    sub = observed_subgraph(data, held)
    assert sub.num_nodes == 90 and torch.equal(sub.y, data.y[~held])
    kept = (~held).nonzero().view(-1)
    # every kept edge joins two observed nodes, relabelled in order
    for a, b in sub.edge_index.t().tolist():
        assert (kept[a].item(), kept[b].item()) in {(0, 1), (1, 2), (45, 46), (50, 51)}
    assert data.num_nodes == 100 and data.edge_index.size(1) == 4  # input untouched
    # a mask of the full graph, restricted to the observed rows, picks the same nodes
    train = torch.zeros(100, dtype=torch.bool)
    train[::7] = True
    (obs,) = observed_masks(held, train)
    assert obs.numel() == 90 and torch.equal(sub.y[obs], data.y[train & ~held])
    assert observed_masks(None, train)[0] is train


def test_cli_distill_inductive_trains_its_teacher(tmp_path, capsys):
    out = tmp_path / 'cli'
    code = main(['distill', '--dataset', 'KarateClub', '--teacher', 'genurl', '--setting',
                 'inductive', '--seeds', '1', '--epochs', '2', '--set', 'batch_size=8',
                 '--set', 'hidden_channels=16', '--threads', '1', '--no-progress',
                 '--out', str(out)])
    assert code == 0
    r = json.loads((out / 'result.json').read_text())
    assert r['setting'] == 'inductive' and r['per_seed'][0]['train_nodes'] < 34
    assert 'student' in capsys.readouterr().out


def test_cli_distill_glnn_reads_the_teachers_probe_and_the_training_labels(tmp_path):
    """The supervised reference through the CLI: the teacher's embeddings become the probe's
    class log-probabilities (one column per class), and the student is probed like any."""
    out = tmp_path / 'glnn'
    code = main(['distill', '--dataset', 'KarateClub', '--teacher',
                 str(_teacher_file(tmp_path)), '--seeds', '1', '--epochs', '2', '--set',
                 'batch_size=8', '--set', 'hidden_channels=16', '--set', 'objective=glnn',
                 '--set', 'label_weight=0.5', '--threads', '1', '--no-progress',
                 '--out', str(out)])
    assert code == 0
    r = json.loads((out / 'result.json').read_text())
    assert 0 <= r['student_accuracy']['mean'] <= 1 and r['config']['objective'] == 'glnn'
    # the class head is saved beside the student, and the result scores its own
    # predictions on the test nodes: recomputed here from the saved files
    state = torch.load(out / 'students' / 'seed0_head.pt')
    emb = torch.load(out / 'embeddings' / 'seed0.pt')
    assert state['weight'].shape == (4, emb.size(1))  # KarateClub's 4 classes
    head = torch.nn.Linear(emb.size(1), 4)
    head.load_state_dict(state)
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.distill.run import distill_seed
    from genurl_pyg.evaluation import split_for
    karate = load_dataset('KarateClub')
    _, val, test = split_for(karate, get_spec('KarateClub').protocol, 0)
    with torch.no_grad():
        pred = head(emb).argmax(1)
    seed0 = r['per_seed'][0]
    assert seed0['student_head_accuracy'] == pytest.approx(
        (pred[test] == karate.y[test]).float().mean().item())
    assert seed0['student_head_val_accuracy'] == pytest.approx(
        (pred[val] == karate.y[val]).float().mean().item())
    assert r['student_head_accuracy']['mean'] == pytest.approx(seed0['student_head_accuracy'])
    data, spec = load_dataset('KarateClub'), get_spec('KarateClub')
    cfg = DistillConfig.from_dict({'objective': 'glnn', 'label_weight': 0.5}, base=TINY)
    _, emb, d = distill_seed(data, spec.name, spec.protocol, str(_teacher_file(tmp_path)),
                             cfg, 'transductive', 0.2)
    assert d.objective.head.out_features == 4 and emb.shape == (34, 8)  # 4 classes
    train = split_for(data, spec.protocol, 0)[0]
    assert torch.equal(d.objective.labels[train], data.y[train])
    assert (d.objective.labels[~train] == -1).all()


@pytest.mark.parametrize('argv, match', [
    (['--set', 'objective=dino'], "'objective' must be one of"),
    (['--holdout', '1.5'], '--holdout'),
    (['--teacher', 'missing.pt'], 'does not exist'),
])
def test_cli_distill_errors_are_one_line(tmp_path, capsys, argv, match):
    base = ['distill', '--dataset', 'KarateClub', '--teacher', 'genurl', '--out',
            str(tmp_path / 'o')]
    args = base + argv if '--teacher' not in argv else [a for a in base if a != 'genurl'
                                                          and a != '--teacher'] + argv
    assert main(args) == 2
    assert match in capsys.readouterr().err


def test_damaged_progress_file_is_named_not_overwritten(tmp_path):
    out = tmp_path / 'run'
    out.mkdir()
    (out / 'progress.json').write_text('{not json')
    with pytest.raises(ValueError, match='cannot be read'):
        distill_job('KarateClub', str(_teacher_file(tmp_path)), TINY, 1, out, resume=True,
                    log=lambda m: None)
    assert (out / 'progress.json').read_text() == '{not json'


def test_image_job_refuses_the_supervised_reference(tmp_path):
    from genurl_pyg.distill.run import distill_images_job
    cfg = DistillConfig.from_dict({'objective': 'glnn'}, base=TINY)
    with pytest.raises(ValueError, match="objective 'glnn'"):
        distill_images_job('fashion-mnist', str(tmp_path), cfg, 1, tmp_path / 'o',
                           log=lambda m: None)
    assert not (tmp_path / 'o').exists()  # refused before anything is written


def _scripted_clock(monkeypatch, durations):
    """perf_counter reads that make the i-th timed call last ``durations[i]`` seconds."""
    from genurl_pyg.distill import run
    reads = iter([t for d in durations for t in (0.0, d)])
    monkeypatch.setattr(run.time, 'perf_counter', lambda: next(reads))


def test_inference_time_is_the_median_after_a_warm_up_and_the_first_output_is_kept(
        monkeypatch):
    from genurl_pyg.distill import run
    calls = []
    _scripted_clock(monkeypatch, [9.0, 5.0, 1.0, 3.0])  # a slow first call, then 5, 1, 3
    out, secs = run._timed(lambda: calls.append(len(calls)) or torch.tensor([len(calls)]))
    assert len(calls) == 1 + run.INFER_REPEATS == 4
    assert out.item() == 1 and secs == 3.0


def test_a_first_call_over_the_limit_is_not_repeated(monkeypatch):
    from genurl_pyg.distill import run
    calls = []
    _scripted_clock(monkeypatch, [run.INFER_REPEAT_BELOW_S + 1])
    _, secs = run._timed(lambda: calls.append(1) or torch.zeros(1))
    assert len(calls) == 1 and secs == run.INFER_REPEAT_BELOW_S + 1
