import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'experiments'))
from paired_nodes import choose_b, compare, load_runs  # noqa: E402


def _file(pred, labels, masks):
    return {'predictions': pred, 'labels': labels, 'masks': masks}


def test_paired_difference_and_its_node_standard_error():
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    tr = np.zeros(10, bool); tr[:2] = True
    va = np.zeros(10, bool); va[2:6] = True
    te = np.zeros(10, bool); te[6:9] = True  # node 9 is the holdout
    masks = np.stack([np.stack([tr, va, te])] * 2)  # two seeds, one fixed split
    a = labels.copy()[None].repeat(2, 0)
    b = a.copy()
    b[0, 2] = 1 - b[0, 2]        # B wrong on val node 2 in seed 0 only
    b[:, 3] = 1 - b[:, 3]        # and on val node 3 in both seeds
    a[:, 6] = 1 - a[:, 6]        # A wrong on test node 6
    res = compare(_file(a, labels, masks), _file(b, labels, masks))
    d_val = np.array([-0.5, -1.0, 0.0, 0.0])
    assert res['val']['diff'] == pytest.approx(d_val.mean())
    assert res['val']['se_nodes'] == pytest.approx(d_val.std(ddof=1) / 2)
    assert res['val']['acc_a'] == 1.0 and res['val']['acc_b'] == pytest.approx(5 / 8)
    assert res['test']['diff'] == pytest.approx(1 / 3)
    assert res['test']['disagree'] == pytest.approx(1 / 3)
    assert res['holdout']['nodes'] == 1
    z = (1 / 3 - d_val.mean()) / np.hypot(res['test']['se_nodes'], res['val']['se_nodes'])
    assert res['test_minus_val_z'] == pytest.approx(z)
    # selection = validation nodes 2-5 and holdout node 9 (where both are right)
    d_sel = np.r_[d_val, 0.0]
    assert res['selection']['nodes'] == 5
    assert res['selection']['diff'] == pytest.approx(d_sel.mean())
    assert res['selection_z'] == pytest.approx(d_sel.mean() / (d_sel.std(ddof=1) / np.sqrt(5)))
    assert not choose_b(res)  # B is worse on the selection nodes
    flipped = compare(_file(b, labels, masks), _file(a, labels, masks))
    assert flipped['selection_z'] == pytest.approx(-res['selection_z'])
    assert choose_b(flipped, z=1.0) and not choose_b(flipped, z=2.0)


def test_mismatched_files_are_refused():
    labels = np.zeros(6, int)
    m = np.zeros((1, 3, 6), bool)
    m[0, 0, 0] = m[0, 1, 1:3] = m[0, 2, 3:] = True
    p = np.zeros((1, 6), int)
    with pytest.raises(ValueError, match='different seeds'):
        compare(_file(p, labels, m), _file(np.zeros((2, 6), int), labels, np.repeat(m, 2, 0)))
    m2 = m.copy()
    m2[0, 2, 5], m2[0, 1, 5] = False, True
    with pytest.raises(ValueError, match='different splits'):
        compare(_file(p, labels, m), _file(p, labels, m2))


def test_random_splits_pair_nodes_within_each_seed():
    # two seeds, each with its own split of 8 nodes (a 10/10/80-style split: no holdout)
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    masks = np.zeros((2, 3, 8), bool)
    masks[0, 0, :2] = masks[0, 1, 2:5] = masks[0, 2, 5:] = True
    masks[1, 0, 6:] = masks[1, 1, 3:6] = masks[1, 2, :3] = True
    a = labels[None].repeat(2, 0).copy()
    b = a.copy()
    b[0, 2] = 1 - b[0, 2]     # seed 0: B wrong on val node 2
    a[1, 4] = 1 - a[1, 4]     # seed 1: A wrong on val node 4
    b[1, 5] = 1 - b[1, 5]     # seed 1: B wrong on val node 5
    res = compare(_file(a, labels, masks), _file(b, labels, masks))
    d0 = np.array([-1.0, 0.0, 0.0])          # seed 0, val nodes 2, 3, 4
    d1 = np.array([0.0, 1.0, -1.0])          # seed 1, val nodes 3, 4, 5
    assert res['val']['diff'] == pytest.approx((d0.mean() + d1.mean()) / 2)
    se = np.sqrt(d0.var(ddof=1) / 3 + d1.var(ddof=1) / 3) / 2
    assert res['val']['se_nodes'] == pytest.approx(se)
    assert res['val']['nodes'] == 3 and res['test']['diff'] == 0.0
    assert res['holdout']['nodes'] == 0 and np.isnan(res['holdout']['diff'])
    assert res['selection']['diff'] == res['val']['diff']


def _save(path, pred, labels, masks, seeds, variant='base', dataset='Photo', **extra):
    np.savez_compressed(path, predictions=pred, masks=masks, labels=labels,
                        seeds=np.asarray(seeds), variant=variant, dataset=dataset, **extra)
    return str(path)


def test_runs_split_over_seeds_join_into_the_whole_run(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 40)
    masks = np.zeros((4, 3, 40), bool)
    for s in range(4):  # a random split per seed
        perm = rng.permutation(40)
        masks[s, 0, perm[:10]], masks[s, 1, perm[10:20]], masks[s, 2, perm[20:]] = 1, 1, 1
    pa, pb = rng.integers(0, 3, (4, 40)), rng.integers(0, 3, (4, 40))
    whole = compare(_file(pa, labels, masks), _file(pb, labels, masks))
    a = load_runs([_save(tmp_path / 'a1.npz', pa[:1], labels, masks[:1], [0]),
                   _save(tmp_path / 'a2.npz', pa[1:], labels, masks[1:], [1, 2, 3])])
    b = load_runs([_save(tmp_path / 'b.npz', pb, labels, masks, [0, 1, 2, 3])])
    assert a['seeds'].tolist() == [0, 1, 2, 3]
    joined = compare(a, b)
    for name in ('val', 'test', 'selection'):
        assert joined[name]['diff'] == pytest.approx(whole[name]['diff'])
        assert joined[name]['se_nodes'] == pytest.approx(whole[name]['se_nodes'])


def test_joining_refuses_repeated_seeds_and_other_variants(tmp_path):
    labels = np.zeros(6, int)
    m = np.zeros((1, 3, 6), bool)
    m[0, 0, 0] = m[0, 1, 1:3] = m[0, 2, 3:] = True
    p = np.zeros((1, 6), int)
    one = _save(tmp_path / 'one.npz', p, labels, m, [0])
    with pytest.raises(ValueError, match='repeat'):
        load_runs([one, _save(tmp_path / 'again.npz', p, labels, m, [0])])
    with pytest.raises(ValueError, match='variant'):
        load_runs([one, _save(tmp_path / 'other.npz', p, labels, m, [1], variant='prein1')])
    with pytest.raises(ValueError, match='labels'):
        load_runs([one, _save(tmp_path / 'lab.npz', p, labels + 1, m, [1])])
    rp = _save(tmp_path / 'rp.npz', p, labels, m, [2], protocol='random-planetoid')
    with pytest.raises(ValueError, match='protocol public'):  # seeds of two protocols
        load_runs([rp, _save(tmp_path / 'pub.npz', p, labels, m, [3], protocol='public')])
    assert load_runs([one, rp])['seeds'].tolist() == [0, 2]  # a file from before the key


def test_a_missing_file_is_named_in_one_line(tmp_path, monkeypatch, capsys):
    import paired_nodes
    with pytest.raises(ValueError, match='no such predictions file: .*absent.npz'):
        load_runs([str(tmp_path / 'absent.npz')])
    monkeypatch.setattr(sys, 'argv', ['paired_nodes.py', str(tmp_path / 'absent.npz'),
                                      str(tmp_path / 'b.npz')])
    with pytest.raises(SystemExit) as exit_info:
        paired_nodes.main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert 'absent.npz' in err and 'Traceback' not in err


def test_fixed_c_reads_that_c_for_both_variants(tmp_path, monkeypatch, capsys):
    import paired_nodes
    from paired_nodes import at_fixed_c
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 30)
    masks = np.zeros((2, 3, 30), bool)
    masks[:, 0, :5], masks[:, 1, 5:15], masks[:, 2, 15:25] = True, True, True  # 25-29 holdout
    by_c = {v: rng.integers(0, 2, (2, 3, 30)) for v in 'ab'}  # seeds x C grid x nodes
    cs = np.array([0.01, 0.1, 1.0])
    paths = {}
    for v in 'ab':
        paths[v] = str(tmp_path / f'{v}.npz')
        np.savez(paths[v], predictions=by_c[v][:, 0], predictions_by_c=by_c[v], cs=cs,
                 chosen_c=np.array([0.01, 0.01]), masks=masks, labels=labels,
                 seeds=np.array([0, 1]), variant=v, dataset='toy', protocol='public')
    a, b = load_runs([paths['a']]), load_runs([paths['b']])
    fixed = compare(at_fixed_c(a, 0.1), at_fixed_c(b, 0.1))
    rows = np.flatnonzero(masks[0, 1])  # by hand: validation nodes at C = 0.1
    d = ((by_c['b'][:, 1, rows] == labels[rows]).astype(float)
         - (by_c['a'][:, 1, rows] == labels[rows])).mean(0)
    assert fixed['val']['diff'] == pytest.approx(d.mean())
    assert fixed['val']['se_nodes'] == pytest.approx(d.std(ddof=1) / np.sqrt(rows.size))
    with pytest.raises(ValueError, match="C = 0.5 is not in the probe's grid"):
        at_fixed_c(a, 0.5)
    old = _save(tmp_path / 'old.npz', by_c['a'][:, 0], labels, masks, [0, 1])
    with pytest.raises(ValueError, match="keep only the chosen C's predictions"):
        at_fixed_c(load_runs([old]), 0.1)
    monkeypatch.setattr(sys, 'argv', ['paired_nodes.py', paths['a'], paths['b'],
                                      '--fixed-c', 'all'])
    paired_nodes.main()
    out = capsys.readouterr().out
    assert out.count('\n| ') == 5  # header, chosen-on-val line, one line per C
    assert f"| 0.1 | {100 * d.mean():+.2f}" in out and '| 0.01 |' in out
    assert out.count('| 2 / 2 |') == 1 and out.count('| 0 / 0 |') == 2  # both chose 0.01
    out_json = tmp_path / 'every_c.json'  # --json keeps what 'all' printed, per C
    monkeypatch.setattr(sys, 'argv', ['paired_nodes.py', paths['a'], paths['b'],
                                      '--fixed-c', 'all', '--json', str(out_json)])
    paired_nodes.main()
    capsys.readouterr()
    saved = json.loads(out_json.read_text())['by_c']
    assert list(saved) == ['chosen', '0.01', '0.1', '1']
    assert saved['0.1']['val']['diff'] == pytest.approx(d.mean())
    assert saved['0.01']['seeds_choosing'] == '2 / 2' and 'seeds_choosing' not in saved['chosen']
    monkeypatch.setattr(sys, 'argv', ['paired_nodes.py', paths['a'], paths['b'],
                                      '--fixed-c', 'big'])
    with pytest.raises(SystemExit):
        paired_nodes.main()
    assert "--fixed-c takes a number of the probe's C grid or 'all'" in capsys.readouterr().err


def test_the_test_nodes_are_shown_and_saved_only_on_request(tmp_path, monkeypatch, capsys):
    import paired_nodes
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 30)
    masks = np.zeros((2, 3, 30), bool)
    masks[:, 0, :5], masks[:, 1, 5:15], masks[:, 2, 15:25] = True, True, True
    paths = [_save(tmp_path / f'{v}.npz', rng.integers(0, 2, (2, 30)), labels, masks, [0, 1])
             for v in 'ab']
    for flag in ([], ['--show-test']):
        out_json = tmp_path / f'res{len(flag)}.json'
        monkeypatch.setattr(sys, 'argv', ['paired_nodes.py', *paths, '--json', str(out_json),
                                          *flag])
        paired_nodes.main()
        out = capsys.readouterr().out
        saved = json.loads(out_json.read_text())
        shown = bool(flag)
        assert ('| test |' in out) is shown and ('test-minus-validation' in out) is shown
        assert ('test' in saved) is shown and ('test_minus_val_z' in saved) is shown
        assert '| selection |' in out and 'selection_z' in saved  # the choice is unchanged
