"""A bf16 (CPU autocast) training step of the detector with every 3D-context operator: no dtype errors, finite
losses and gradients, float32 master weights."""
import pytest
import torch

pytest.importorskip('mmdet')
from mmdet.registry import MODELS  # noqa: E402
from mmdet.utils import register_all_modules  # noqa: E402
from mmengine.registry import OPTIM_WRAPPERS  # noqa: E402

import mmdet3dctx  # noqa: E402,F401
from tests.test_models.utils import tiny_batch, tiny_model_cfg  # noqa: E402

register_all_modules(init_default_scope=True)
OPS = ['NoFusionConv', 'A3DConv', 'ACSConv', 'SoftACSConv', 'I3DConv', 'P3DConv', 'TSMConv', 'AlignShiftConv']


@pytest.mark.parametrize('op', OPS)
def test_bf16_train_step(op):
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(dict(type=op)))
    model.init_weights()
    model.train()
    wrapper = OPTIM_WRAPPERS.build(dict(type='CPUAutocastOptimWrapper',
                                        optimizer=torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)))
    inputs, samples = tiny_batch(model, num_slices=3, size=64)
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    with wrapper.optim_context(model):
        assert torch.is_autocast_enabled('cpu') and torch.get_autocast_dtype('cpu') == torch.bfloat16
        losses = model.loss(inputs, samples)
    loss, _ = model.parse_losses(losses)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    wrapper.update_params(loss)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    changed = [k for k, v in model.backbone.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])]
    assert changed  # the step moved the backbone's weights
