"""A bf16 (CPU autocast) training step of the detector with every 3D-context operator: no dtype errors, finite
losses and gradients, float32 master weights."""
import pytest
import torch

pytest.importorskip('mmdet')
from mmdet.registry import HOOKS, MODELS  # noqa: E402
from mmengine.registry import OPTIM_WRAPPERS  # noqa: E402

import mmdet3dctx  # noqa: E402,F401
from mmdet3dctx.testing.tiny_detector import random_ct_batch, tiny_model_cfg  # noqa: E402

OPS = ['NoFusionConv', 'A3DConv', 'ACSConv', 'SoftACSConv', 'I3DConv', 'P3DConv', 'TSMConv', 'AlignShiftConv']


@pytest.mark.parametrize('op', OPS)
def test_bf16_train_step(op):
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(dict(type=op)))
    model.init_weights()
    model.train()
    wrapper = OPTIM_WRAPPERS.build(dict(type='CPUAutocastOptimWrapper',
                                        optimizer=torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)))
    inputs, samples = random_ct_batch(model, num_slices=3, size=64)
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    with wrapper.optim_context(model):
        assert torch.is_autocast_enabled('cpu') and torch.get_autocast_dtype('cpu') == torch.bfloat16
        losses = model.loss(inputs, samples)
    loss, _ = model.parse_losses(losses)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    wrapper.update_params(loss)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    changed = [k for k, v in model.backbone.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, before[k])]
    assert changed  # the step moved the backbone's weights


def test_key_group_rpn_bf16_train_step_runs_both_neck_calls_in_bf16():
    """The RPN's (key group) and the RoI head's (fused) maps both come from the neck in bf16; heads in float32."""
    from mmdet3dctx.apis import read_config
    torch.manual_seed(0)
    model = MODELS.build(read_config('configs/demo/3dce_r18_9slice_synthetic.py').model)
    model.init_weights()
    model.train()
    wrapper = OPTIM_WRAPPERS.build(dict(type='CPUAutocastOptimWrapper',
                                        optimizer=torch.optim.SGD(model.parameters(), lr=0.01)))
    neck_dtypes, rpn_input_dtypes = [], []
    model.neck.register_forward_hook(lambda m, a, out: neck_dtypes.append(out[0].dtype))
    model.rpn_head.rpn_conv.register_forward_hook(lambda m, a, out: rpn_input_dtypes.append(a[0].dtype))
    inputs, samples = random_ct_batch(model, num_slices=9, size=64)
    with wrapper.optim_context(model):
        losses = model.loss(inputs, samples)
    assert neck_dtypes == [torch.bfloat16, torch.bfloat16]
    assert set(rpn_input_dtypes) == {torch.float32}
    loss, _ = model.parse_losses(losses)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert not torch.is_autocast_enabled('cpu')
    assert not model.neck._forward_pre_hooks and not model.rpn_head._forward_pre_hooks  # hooks removed


def test_float32_heads_hook_under_the_test_loops_autocast():
    """``test_cfg=dict(fp16=True)`` autocasts to bf16 on CPU; the hook keeps the heads in float32."""
    from types import SimpleNamespace

    from mmengine.runner.amp import autocast
    model = MODELS.build(tiny_model_cfg(dict(type='A3DConv')))
    model.init_weights()
    model.eval()
    hook = HOOKS.build(dict(type='Float32HeadsHook'))
    runner = SimpleNamespace(model=model)
    inputs, samples = random_ct_batch(model, num_slices=3, size=64, training=False)
    hook.before_test_epoch(runner)
    with torch.no_grad(), autocast(device_type='cpu', dtype=torch.bfloat16):
        assert model.extract_feat(inputs)[0].dtype == torch.bfloat16
        results = model.predict(inputs, samples)
    hook.after_test_epoch(runner)
    assert results[0].pred_instances.bboxes.dtype == torch.float32
    assert not model.rpn_head._forward_pre_hooks and not model.backbone._forward_pre_hooks
