"""genurl_pyg.distill.graph's inductive protocol helpers."""
import torch


def test_held_out_validation_splits_validation_in_half_and_a_fifth_of_test():
    from genurl_pyg.distill.graph import held_out_validation, inductive_split
    val = torch.zeros(100, dtype=torch.bool)
    val[:40] = True
    test = torch.zeros(100, dtype=torch.bool)
    test[50:] = True
    held, held_val, fit_val = held_out_validation(val, test, seed=3)
    assert int(held_val.sum()) == 20 and int((held & test).sum()) == 10
    assert torch.equal(held_val | fit_val, val) and not (held_val & fit_val).any()
    assert torch.equal(held, held_val | inductive_split(test, 0.2, 3))
