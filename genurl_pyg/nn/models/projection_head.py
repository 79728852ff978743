r"""The projection head shared by the image tasks: Linear-BatchNorm-ReLU-Linear."""
from __future__ import annotations

from torch import nn


class ProjectionHead(nn.Sequential):
    r"""SimCLR's projection head with BatchNorm, the projector :math:`g` of GenURL's LDT
    stage for image backbones and students:

    .. math::
        z = W_2\,\mathrm{ReLU}\big(\mathrm{BN}(W_1 h)\big) + b_2 .

    The loss reads :math:`z`; the representation kept after training is :math:`h`, read
    before the head, so that the head absorbs what the loss's kernel discards (SimCLR's
    finding for linear probes, Chen et al. 2020). Used by the vision task
    (:class:`~genurl_pyg.vision.trainer.VisualTrainer`'s projector and BYOL's predictor)
    and, with ``projector_hidden > 0``, by the distillation students
    (:class:`~genurl_pyg.distill.objective.GenURLObjective`).

    Args:
        in_channels (int): width of :math:`h`.
        hidden_channels (int): width of the hidden layer.
        out_channels (int): width of :math:`z`.

    Cost: :math:`O(N (d_{in} h + h\,d_{out}))` per forward; parameters
    :math:`d_{in} h + 2h + h\,d_{out} + d_{out}`. Its state_dict keys are the
    ``nn.Sequential`` positions (``0.weight``, ``1.weight``, ...), as the vision task's
    checkpoints store them.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        for name, value in (('in_channels', in_channels),
                            ('hidden_channels', hidden_channels),
                            ('out_channels', out_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ProjectionHead: '{name}' must be an integer >= 1, got "
                                 f'{value!r}')
        super().__init__(nn.Linear(in_channels, hidden_channels, bias=False),
                         nn.BatchNorm1d(hidden_channels), nn.ReLU(inplace=True),
                         nn.Linear(hidden_channels, out_channels))
        self.in_channels, self.hidden_channels = in_channels, hidden_channels
        self.out_channels = out_channels

    def reset_parameters(self) -> None:
        for module in self:
            if hasattr(module, 'reset_parameters'):
                module.reset_parameters()

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, '
                f'{self.out_channels})')
