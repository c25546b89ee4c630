import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def run_op(op, x, thickness=None):
    """Call an operator, passing the slice thickness to those that need it."""
    if getattr(op, 'needs_thickness', False):
        return op(x, torch.full((x.shape[0], ), 2.0) if thickness is None else thickness)
    return op(x)
