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
    from genurl_pyg.node.config import ConfigError
    chosen = node_study._incumbent(dataset)
    base = dataset_defaults(dataset)
    for label, overrides in node_study.ABLATIONS:
        params = node_study._resolve(dataset, chosen, overrides)
        if params is None:
            continue
        if overrides.get('view_smoothing') == 'own' and not base.encoder_input_hops:
            # the one row that cannot exist where the encoder reads X (planned_rows drops it)
            with pytest.raises(ConfigError, match='view_smoothing: own'):
                NodeConfig.from_dict(params, base=base)
        else:
            NodeConfig.from_dict(params, base=base)  # raises if not


def test_selection_accuracy_counts_validation_and_holdout_nodes_only():
    import numpy as np
    import torch
    y = torch.tensor([0, 1, 1, 0, 2, 2, -1, 1])
    train = torch.tensor([1, 0, 0, 0, 0, 0, 0, 0], dtype=torch.bool)
    val = torch.tensor([0, 1, 1, 0, 0, 0, 0, 0], dtype=torch.bool)
    test = torch.tensor([0, 0, 0, 1, 0, 0, 0, 0], dtype=torch.bool)
    pred = np.array([9, 1, 0, 9, 2, 0, 1, 1])  # train/test wrong on purpose: not counted
    # selection = val {1, 2} + holdout {4, 5, 7} (node 6 is unlabelled): 1, 0, 1, 0, 1 correct
    assert node_study.selection_accuracy(pred, y, train, val, test) == 3 / 5
    with pytest.raises(ValueError, match='no labelled selection nodes'):
        node_study.selection_accuracy(pred, y, ~test, test & False, test)


@pytest.mark.parametrize('space', sorted(node_study.SPACES))
def test_incumbent_lies_in_every_space(space):
    space_ = node_study.SPACES[space]
    inc = node_study._incumbent('CiteSeer', space_)
    assert set(inc) <= set(space_)
    if space == 'extended':  # the shipped CiteSeer config's switches (session 28: a sphere)
        from genurl_pyg.node import dataset_defaults
        shipped = dataset_defaults('CiteSeer')
        assert inc['encoder_input_hops'] == shipped.encoder_input_hops == 0
        assert inc['latent_radius'] == shipped.latent_radius == 3.0
    other = node_study._incumbent('CiteSeer', space_, {'feature_norm': 'none', 'k': 10})
    assert other['feature_norm'] == 'none' and other['k'] == 10


def test_sphere_space_keeps_the_shipped_cs_config_whole():
    # the sphere space exists for Coauthor-CS (no input smoothing): its first trial must be
    # the shipped config itself, so every key of the space is set, epochs (80) included
    from genurl_pyg.node import dataset_defaults
    space = node_study.SPACES['sphere']
    assert 'encoder_input_hops' not in space and 'latent_radius' in space
    inc = node_study._incumbent('CS', space)
    assert set(inc) == set(space)
    shipped = dataset_defaults('CS')
    assert inc['epochs'] == shipped.epochs == 80
    assert inc['latent_radius'] == shipped.latent_radius == 0.0


def test_a_study_refuses_to_continue_under_another_objective(tmp_path):
    optuna = pytest.importorskip('optuna')
    from types import SimpleNamespace
    study = optuna.create_study(storage=f'sqlite:///{tmp_path / "s.db"}', study_name='s',
                                direction='maximize')
    args = SimpleNamespace(objective='selection', space='extended', protocol='')
    node_study._check_study_terms(study, args)  # new study: records its terms
    study.enqueue_trial({})
    node_study._check_study_terms(study, args)  # same terms: fine
    with pytest.raises(SystemExit, match='--objective selection'):
        node_study._check_study_terms(study, SimpleNamespace(objective='val',
                                                             space='extended', protocol=''))
    with pytest.raises(SystemExit, match="--protocol ''; continuing it with --protocol "
                                         'random-planetoid'):
        node_study._check_study_terms(study, SimpleNamespace(
            objective='selection', space='extended', protocol='random-planetoid'))
    with pytest.raises(SystemExit, match='--enqueue only seeds a new study'):
        node_study._check_study_terms(study, SimpleNamespace(
            objective='selection', space='extended', protocol='', enqueue=['cfg.yaml']))
    old = optuna.create_study(direction='maximize')  # a study from before the switch
    old.enqueue_trial({})
    with pytest.raises(SystemExit, match='--space default'):
        node_study._check_study_terms(old, SimpleNamespace(objective='val', space='extended',
                                                           protocol=''))
    # studies from before --protocol were read on the data set's own split
    node_study._check_study_terms(old, SimpleNamespace(objective='val', space='default',
                                                       protocol=''))


def test_config_files_are_read_by_the_packages_reader(tmp_path):
    path = tmp_path / 'c.yaml'
    path.write_text('lr: 1e-3\nk: 10\n')
    assert node_study._read_yaml(str(path)) == {'lr': 0.001, 'k': 10}  # a float, not '1e-3'
    with pytest.raises(SystemExit, match='does not exist'):
        node_study._read_yaml(str(tmp_path / 'missing.yaml'))
    (tmp_path / 'list.yaml').write_text('- 1\n- 2\n')
    with pytest.raises(SystemExit, match='mapping'):
        node_study._read_yaml(str(tmp_path / 'list.yaml'))


def test_seeding_a_study_names_the_keys_an_older_file_leaves_to_the_default(tmp_path,
                                                                             capsys):
    optuna = pytest.importorskip('optuna')
    space = node_study.SPACES['extended']
    full, old = tmp_path / 'full.yaml', tmp_path / 'old.yaml'
    import yaml
    full.write_text(yaml.safe_dump(node_study._incumbent('CiteSeer', space, {'k': 10})))
    old.write_text('k: 10\nnum_layers: 2\n')
    study = optuna.create_study(direction='maximize')
    node_study._seed_study(study, 'CiteSeer', space, [str(full), str(old)])
    queued = [t.system_attrs['fixed_params'] for t in study.get_trials(deepcopy=False)]
    assert queued[0] == node_study._incumbent('CiteSeer', space)  # the shipped default
    assert queued[1]['k'] == queued[2]['k'] == 10 and queued[2]['num_layers'] == 2
    out = capsys.readouterr().out
    assert str(full) not in out  # every searched key set: nothing to say
    line = next(x for x in out.splitlines() if str(old) in x)
    assert 'latent_radius' in line and 'encoder_input_hops' in line
    assert ' k,' not in line and 'num_layers' not in line


def test_workers_of_one_study_do_not_propose_the_same_configs():
    # two processes on one study used one sampler seed and drew the same random start
    optuna = pytest.importorskip('optuna')
    space = node_study.SPACES['sphere']

    def first_draws(worker):
        study = optuna.create_study(sampler=node_study.make_sampler(worker),
                                    direction='maximize')
        return [node_study._suggest(study.ask(), space) for _ in range(3)]
    assert first_draws(0) == first_draws(0)  # each worker stays reproducible
    assert all(a != b for a, b in zip(first_draws(0), first_draws(1)))
    with pytest.raises(ValueError, match='worker must be >= 0'):
        node_study.make_sampler(-1)
    with pytest.raises(SystemExit):
        node_study.main(['search', '--dataset', 'CS', '--worker', '-1'])


def test_the_search_table_names_every_workers_command(tmp_path, monkeypatch):
    """Two workers on one storage: each records its own command (a restarted worker
    appends to its own), and the written table lists them all, not only the writer's."""
    optuna = pytest.importorskip('optuna')
    from types import SimpleNamespace
    storage = f'sqlite:///{tmp_path / "s.db"}'
    study = optuna.create_study(storage=storage, study_name='s', direction='maximize')
    node_study._record_command(study, 1, 'python w1')
    node_study._record_command(study, 0, 'python w0')
    node_study._record_command(study, 0, 'python w0 again')
    reloaded = optuna.load_study(storage=storage, study_name='s')  # what another process sees
    assert node_study.study_commands(reloaded) == ['python w0', 'python w0 again', 'python w1']
    written = {}
    monkeypatch.setattr(node_study, 'write_results',
                        lambda stem, payload, md: written.update(p=payload, md=md))
    args = SimpleNamespace(dataset='CS', threads=1, seeds=1, objective='val', protocol='',
                           space='sphere', study='x', worker=1)
    node_study._write_search(args, reloaded, storage)
    assert written['p']['commands'] == ['python w0', 'python w0 again', 'python w1']
    assert '`python w0`; `python w0 again`; `python w1`; torch threads 1' in written['md']
    fresh = optuna.create_study(direction='maximize')  # recorded nothing: the writer's own
    node_study._write_search(args, fresh, 'memory')
    assert written['p']['commands'] == [written['p']['command']]


def test_paired_delta_reads_the_seeds_both_rows_ran():
    import numpy as np
    base = {'seeds': [0, 1, 2], 'val': [0.80, 0.82, 0.81]}
    row = {'seeds': [2, 0, 1, 3], 'val': [0.84, 0.81, 0.85, 0.99]}  # seed 3: base lacks it
    mean, se, n = node_study.paired_delta(row, base, 'val')
    diff = np.array([0.81 - 0.80, 0.85 - 0.82, 0.84 - 0.81])
    assert n == 3
    assert mean == pytest.approx(diff.mean())
    assert se == pytest.approx(diff.std(ddof=1) / np.sqrt(3))
    # rows written before seeds were recorded ran seeds 0..n-1
    assert node_study.paired_delta({'val': [0.9]}, base, 'val') == pytest.approx((0.1, None, 1))
    assert node_study.paired_delta({'seeds': [7], 'val': [0.9]}, base, 'val') is None


def test_the_shipped_ablation_switches_todays_design():
    """--shipped: the rows are the shipped YAML's switches; impossible rows are left out."""
    cora = {label for label, _, _ in node_study.planned_rows('Cora', {})}
    assert 'chosen configuration' in cora
    assert 'objective: Student-t repulsion alone (no correlation term)' in cora
    assert 'encoder: reads X (encoder_input_hops 0)' in cora
    assert 'encoder: no input skip path' not in cora  # Cora has none: nothing to switch off
    citeseer = {label for label, _, _ in node_study.planned_rows('CiteSeer', {})}
    # CiteSeer's encoder reads X, so the views' own smoothing is impossible, not a crash
    assert not any('entries, own' in label for label in citeseer)
    assert 'objective: Q in R^D (no sphere, latent_radius 0)' in citeseer
    assert 'encoder: no input skip path' in {
        label for label, _, _ in node_study.planned_rows('CS', {})}


def test_the_ablation_resumes_seed_by_seed_and_refuses_another_config(tmp_path, monkeypatch):
    import json
    calls = []

    def fake_evaluate(dataset, params, seeds, test=False, protocol=''):
        calls.append((json.dumps(params, sort_keys=True), seeds[0]))
        acc = 0.5 + 0.01 * seeds[0] + (0.1 if params else 0.0)
        return {'val': [acc], 'selection': [acc], 'test': [acc], 'seconds': [1.0],
                'protocol': 'public'}

    def fake_write(stem, payload, md):
        (tmp_path / f'{stem}.json').write_text(json.dumps(payload))
        (tmp_path / f'{stem}.md').write_text(md)
    monkeypatch.setattr(node_study, '_evaluate', fake_evaluate)
    monkeypatch.setattr(node_study, 'write_results', fake_write)
    monkeypatch.setattr(node_study, 'RESULTS', tmp_path)
    monkeypatch.setattr(node_study, 'planned_rows', lambda d, c: [
        ('chosen configuration', {}, dict(c)), ('P: no views', {'views': False},
                                                {**c, 'views': False})])
    node_study.main(['ablation', '--dataset', 'Cora', '--shipped', '--seeds', '2'])
    # breadth-first: seed 0 of every row before seed 1
    assert [seed for _, seed in calls] == [0, 0, 1, 1]
    calls.clear()
    with pytest.raises(SystemExit, match='exists: --resume continues it'):
        node_study.main(['ablation', '--dataset', 'Cora', '--shipped', '--seeds', '3'])
    assert not calls  # refused before any run, the file untouched
    node_study.main(['ablation', '--dataset', 'Cora', '--shipped', '--seeds', '3',
                     '--resume'])
    assert [seed for _, seed in calls] == [2, 2]  # only the missing seed of each row
    saved = json.loads((tmp_path / 'node_study_Cora_shipped_ablation.json').read_text())
    assert [r['seeds'] for r in saved['rows']] == [[0, 1, 2], [0, 1, 2]]
    assert len(saved['commands']) == 2  # both calls are recorded, in order
    calls.clear()
    (tmp_path / 'node_study_Cora_shipped_ablation.md').write_text('stale')
    node_study.main(['ablation', '--dataset', 'Cora', '--shipped', '--seeds', '5', '--report'])
    assert not calls  # --report runs nothing, even where seeds are missing
    md = (tmp_path / 'node_study_Cora_shipped_ablation.md').read_text()
    assert 'nan' not in md
    assert '| P: no views | 3 | 61.00 ± 0.82 | +10.00 ± 0.00 |' in md
    assert 'genurl_pyg/configs/cora.yaml' in md
    # the same file cannot be extended from another chosen configuration
    cfg = tmp_path / 'c.yaml'
    cfg.write_text('alpha: 0.5\n')
    with pytest.raises(SystemExit, match='another chosen configuration'):
        node_study.main(['ablation', '--dataset', 'Cora', '--config', str(cfg),
                         '--study', 'shipped', '--seeds', '3', '--resume'])
    with pytest.raises(SystemExit):
        node_study.main(['ablation', '--dataset', 'Cora', '--shipped', '--config', str(cfg)])


def test_two_processes_split_the_seeds_and_merge_into_one_file(tmp_path, monkeypatch):
    """--first-seed gives a second process its own seeds; --merge folds its file into the
    first, runs nothing, keeps every command, and refuses a file of another config."""
    import json
    calls = []

    def fake_evaluate(dataset, params, seeds, test=False, protocol=''):
        calls.append(seeds[0])
        acc = 0.5 + 0.01 * seeds[0] + (0.1 if params else 0.0)
        return {'val': [acc], 'selection': [acc], 'test': [acc], 'seconds': [1.0],
                'protocol': 'public'}

    where = {'dir': tmp_path / 'a'}

    def fake_write(stem, payload, md):
        where['dir'].mkdir(exist_ok=True)
        (where['dir'] / f'{stem}.json').write_text(json.dumps(payload))
        (where['dir'] / f'{stem}.md').write_text(md)
    monkeypatch.setattr(node_study, '_evaluate', fake_evaluate)
    monkeypatch.setattr(node_study, 'write_results', fake_write)
    monkeypatch.setattr(node_study, 'planned_rows', lambda d, c: [
        ('chosen configuration', {}, dict(c)), ('P: no views', {'views': False},
                                                {**c, 'views': False})])
    name = 'node_study_Cora_shipped_ablation'
    monkeypatch.setattr(node_study, 'RESULTS', tmp_path / 'a')
    monkeypatch.setattr(node_study.sys, 'argv', ['run-a'])
    node_study.main(['ablation', '--dataset', 'Cora', '--shipped', '--seeds', '2'])
    where['dir'] = tmp_path / 'b'  # the other worktree, the other seeds
    monkeypatch.setattr(node_study, 'RESULTS', tmp_path / 'b')
    monkeypatch.setattr(node_study.sys, 'argv', ['run-b'])
    node_study.main(['ablation', '--dataset', 'Cora', '--shipped', '--first-seed', '2',
                     '--seeds', '2'])
    assert calls == [0, 0, 1, 1, 2, 2, 3, 3]
    # a run both files hold with different numbers: this file's is kept and reported
    b = json.loads((tmp_path / 'b' / f'{name}.json').read_text())
    b['rows'][1]['seeds'].append(0)
    for key in ('val', 'selection', 'test', 'seconds'):
        b['rows'][1][key].append(0.0)
    (tmp_path / 'b' / f'{name}.json').write_text(json.dumps(b))
    where['dir'] = tmp_path / 'a'
    monkeypatch.setattr(node_study, 'RESULTS', tmp_path / 'a')
    calls.clear()
    monkeypatch.setattr(node_study.sys, 'argv', ['merge'])
    node_study.main(['ablation', '--dataset', 'Cora', '--shipped', '--merge',
                     str(tmp_path / 'b' / f'{name}.json')])
    assert not calls
    merged = json.loads((tmp_path / 'a' / f'{name}.json').read_text())
    assert [sorted(r['seeds']) for r in merged['rows']] == [[0, 1, 2, 3], [0, 1, 2, 3]]
    views = merged['rows'][1]
    assert views['val'][views['seeds'].index(0)] == pytest.approx(0.6)  # ours, not 0.0
    assert views['val'][views['seeds'].index(3)] == pytest.approx(0.63)
    assert merged['commands'] == ['python run-a', 'python run-b', 'python merge']
    md = (tmp_path / 'a' / f'{name}.md').read_text()
    assert 'seeds 0-3' in md and '| P: no views | 4 |' in md
    # merging again adds nothing and loses nothing
    node_study.main(['ablation', '--dataset', 'Cora', '--shipped', '--merge',
                     str(tmp_path / 'b' / f'{name}.json')])
    again = json.loads((tmp_path / 'a' / f'{name}.json').read_text())
    assert again['rows'] == merged['rows']
    cfg = tmp_path / 'c.yaml'
    cfg.write_text('alpha: 0.5\n')
    with pytest.raises(SystemExit, match='another chosen configuration'):
        node_study.main(['ablation', '--dataset', 'Cora', '--config', str(cfg), '--study',
                         'shipped', '--merge', str(tmp_path / 'b' / f'{name}.json')])
    with pytest.raises(SystemExit, match='cannot read'):
        node_study.main(['ablation', '--dataset', 'Cora', '--shipped', '--merge',
                         str(tmp_path / 'missing.json')])
    with pytest.raises(SystemExit, match='not an ablation of CiteSeer'):
        node_study.main(['ablation', '--dataset', 'CiteSeer', '--shipped', '--merge',
                         str(tmp_path / 'b' / f'{name}.json')])
    # this file read from another chosen configuration: a merge must not relabel its rows
    ours = tmp_path / 'a' / f'{name}.json'
    foreign = json.loads(ours.read_text())
    foreign['chosen'] = {'alpha': 0.5}
    ours.write_text(json.dumps(foreign))
    with pytest.raises(SystemExit, match='another chosen configuration'):
        node_study.main(['ablation', '--dataset', 'Cora', '--shipped', '--merge',
                         str(tmp_path / 'b' / f'{name}.json')])
    assert json.loads(ours.read_text()) == foreign  # untouched
