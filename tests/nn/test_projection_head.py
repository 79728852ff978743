import pytest
import torch

from genurl_pyg.nn.models import ProjectionHead


def test_head_is_linear_bn_relu_linear_written_out():
    torch.manual_seed(0)
    head = ProjectionHead(6, 10, 3).eval()  # eval: BatchNorm reads its running statistics
    with torch.no_grad():
        head[1].running_mean.uniform_(-1, 1)
        head[1].running_var.uniform_(0.5, 2)
        head[1].weight.uniform_(0.5, 2)
        head[1].bias.uniform_(-1, 1)
    h = torch.randn(7, 6)
    bn = head[1]
    a = h @ head[0].weight.T
    a = (a - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
    want = a.clamp_min(0) @ head[3].weight.T + head[3].bias
    torch.testing.assert_close(head(h), want)
    assert head[0].bias is None  # BatchNorm follows: a bias there would be absorbed
    assert repr(head) == 'ProjectionHead(6, 10, 3)'


def test_keys_are_the_sequential_positions_and_reset_redraws_weights():
    torch.manual_seed(0)
    head = ProjectionHead(4, 8, 2)
    assert set(head.state_dict()) >= {'0.weight', '1.weight', '1.running_mean', '3.weight',
                                      '3.bias'}  # what the vision task's checkpoints hold
    before = head[0].weight.clone()
    head.reset_parameters()
    assert not torch.equal(before, head[0].weight)


@pytest.mark.parametrize('args', [(0, 4, 2), (4, 4.0, 2), (4, 4, True), (4, -1, 2)])
def test_bad_widths_are_named(args):
    with pytest.raises(ValueError, match='must be an integer >= 1'):
        ProjectionHead(*args)
