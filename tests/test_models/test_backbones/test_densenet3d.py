import pytest
import torch
import torch.nn.functional as F

from mmdet.registry import MODELS
from mmdet3dctx.models import DenseNet3D
from mmdet3dctx.ops import A3DConv, NoFusionConv, TSMConv, bound_input_slice_interval, call_with_input_slice_interval

SMALL = dict(block_config=(2, 2, 2), growth_rate=8, bn_size=2, num_init_features=16)


def _randomise_norms(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)


def _bn(x, m):
    return F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, False, 0., m.eps)


def densenet2d_reference(model, x):
    """A 2D DenseNet written with functional 2D calls on the 3D model's weights: ``(N, 1, H, W)``."""
    x = F.conv2d(x, model.conv0.weight, stride=2, padding=3)
    x = F.max_pool2d(F.relu(_bn(x, model.norm0)), 3, 2, 1)
    outs = []
    for i, name in enumerate(model.block_names):
        if i > 0:
            t = getattr(model, f'transition{i}')
            x = F.avg_pool2d(F.conv2d(F.relu(_bn(x, t.norm)), t.conv.weight), 2)
        feats = [x]
        for layer in getattr(model, name).values():
            h = torch.cat(feats, 1)
            h = F.conv2d(F.relu(_bn(h, layer.norm1)), layer.conv1.weight)
            h = F.conv2d(F.relu(_bn(h, layer.norm2)), layer.conv2.weight, padding=1)
            feats.append(h)
        x = torch.cat(feats, 1)
        outs.append(x)
    return outs


def test_densenet3d_shapes_default_channels():
    model = DenseNet3D(num_slices=3, block_config=(1, 1, 1)).eval()
    outs = model(torch.rand(1, 1, 3, 64, 64))
    # block outputs of the truncated DenseNet-121 widths with 1 layer each: 64+32, 48+32, 40+32
    assert [tuple(o.shape) for o in outs] == [(1, 96, 3, 16, 16), (1, 80, 3, 8, 8), (1, 72, 3, 4, 4)]
    full = DenseNet3D(num_slices=3)
    assert full.out_channels == [256, 512, 1024]
    assert isinstance(full.denseblock1.denselayer1.conv1, A3DConv)
    assert full.denseblock1.denselayer1.conv1.num_slices == 3
    assert isinstance(full.conv0, NoFusionConv) and isinstance(full.transition1.conv, NoFusionConv)
    assert len(full.denseblock3) == 24


def test_densenet3d_nofusion_equals_2d_per_slice():
    torch.manual_seed(0)
    model = DenseNet3D(num_slices=5, context_conv=dict(type='NoFusionConv'), **SMALL)
    _randomise_norms(model)
    model.eval()
    x = torch.randn(2, 1, 5, 64, 64)
    outs = model(x)
    for d in range(5):
        ref = densenet2d_reference(model, x[:, :, d])
        for o, r in zip(outs, ref):
            torch.testing.assert_close(o[:, :, d], r, rtol=1e-4, atol=1e-4)


def test_densenet3d_a3d_identity_equals_nofusion():
    torch.manual_seed(0)
    a3d = DenseNet3D(num_slices=3, context_conv=dict(type='A3DConv'), **SMALL)
    nof = DenseNet3D(num_slices=3, context_conv=dict(type='NoFusionConv'), **SMALL)
    with torch.no_grad():
        for m in a3d.modules():
            if isinstance(m, A3DConv):
                m.fusion_weight.copy_(torch.eye(3).unsqueeze(-1).expand_as(m.fusion_weight))
    missing, unexpected = nof.load_state_dict(a3d.state_dict(), strict=False)
    assert not missing and all('fusion_weight' in k for k in unexpected)
    a3d.eval(), nof.eval()
    x = torch.randn(1, 1, 3, 32, 32)
    for o1, o2 in zip(a3d(x), nof(x)):
        torch.testing.assert_close(o1, o2, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('op', ['NoFusionConv', 'A3DConv', 'ACSConv', 'SoftACSConv', 'I3DConv', 'P3DConv',
                                'TSMConv', 'AlignShiftConv'])
def test_densenet3d_every_operator_trains(op):
    model = MODELS.build(dict(type='DenseNet3D', num_slices=3, context_conv=dict(type=op), **SMALL))
    model.init_weights()
    x = torch.randn(2, 1, 3, 32, 32)
    input_slice_interval = torch.tensor([1.0, 5.0])
    outs = call_with_input_slice_interval(model, x, input_slice_interval=input_slice_interval)
    assert [o.shape[2] for o in outs] == [3, 3, 3]
    sum(o.mean() for o in outs).backward()
    assert model.denseblock1.denselayer1.conv2.weight.grad is not None


def test_densenet3d_with_cp_same_output_and_grads():
    """The checkpointed bottleneck is recomputed in backward, after the call's binding has ended: it binds again
    the interval of its forward, so outputs and gradients equal those without checkpointing."""
    torch.manual_seed(0)
    kwargs = dict(num_slices=3, context_conv=dict(type='AlignShiftConv'), **SMALL)
    m1, m2 = DenseNet3D(**kwargs), DenseNet3D(with_cp=True, **kwargs)
    m2.load_state_dict(m1.state_dict())
    x1 = torch.randn(2, 1, 3, 32, 32, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    t = torch.tensor([1.0, 4.0])
    o1 = call_with_input_slice_interval(m1, x1, input_slice_interval=t)
    o2 = call_with_input_slice_interval(m2, x2, input_slice_interval=t)
    torch.testing.assert_close(o1[-1], o2[-1])
    assert bound_input_slice_interval(m2) is None  # backward below runs outside any binding
    o1[-1].sum().backward()
    g1 = m1.denseblock2.denselayer1.conv1.weight.grad.clone()
    o2[-1].sum().backward()
    torch.testing.assert_close(g1, m2.denseblock2.denselayer1.conv1.weight.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-4, atol=1e-5)
    for (name, p1), p2 in zip(m1.named_parameters(), m2.parameters()):
        torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-4, atol=1e-5, msg=name)
    # the recomputation used the forward's intervals: another interval gives other gradients
    m3 = DenseNet3D(with_cp=True, **kwargs)
    m3.load_state_dict(m1.state_dict())
    call_with_input_slice_interval(m3, x1.detach(), input_slice_interval=torch.tensor([4.0, 1.0]))[-1].sum().backward()
    assert not torch.allclose(g1, m3.denseblock2.denselayer1.conv1.weight.grad)


def test_densenet3d_input_slice_interval_reaches_alignshift():
    torch.manual_seed(0)
    model = DenseNet3D(num_slices=3, context_conv=dict(type='AlignShiftConv'), **SMALL).eval()
    x = torch.randn(1, 1, 3, 32, 32)
    near = call_with_input_slice_interval(model, x, input_slice_interval=torch.tensor([2.0]))[-1]
    far = call_with_input_slice_interval(model, x, input_slice_interval=torch.tensor([20.0]))[-1]
    assert not torch.allclose(near, far)


def test_densenet3d_alignshift_without_the_helper_says_how_to_give_the_interval():
    model = DenseNet3D(num_slices=3, context_conv=dict(type='AlignShiftConv'), **SMALL).eval()
    with pytest.raises(ValueError, match='AlignShiftConv needs `input_slice_interval`.*call_with_input_slice_interval'):
        model(torch.randn(1, 1, 3, 32, 32))


def test_densenet3d_norm_cfg_and_freezing():
    gn = DenseNet3D(num_slices=3, norm_cfg=dict(type='GN', num_groups=8), **SMALL)
    assert isinstance(gn.norm0, torch.nn.GroupNorm)
    frozen = DenseNet3D(num_slices=3, frozen_stages=1, norm_eval=True, **SMALL)
    frozen.train()
    assert not frozen.conv0.weight.requires_grad
    assert not any(p.requires_grad for p in frozen.denseblock1.parameters())
    assert all(p.requires_grad for p in frozen.denseblock2.parameters())
    assert not frozen.norm0.training and not frozen.denseblock2.denselayer1.norm1.training


def test_densenet3d_bad_config_errors():
    with pytest.raises(KeyError, match='context_conv'):
        DenseNet3D(context_conv=dict(type='NoSuchConv'))
    with pytest.raises(ValueError, match='num_slices'):
        DenseNet3D(num_slices=7, context_conv=dict(type='A3DConv', num_slices=5))
    with pytest.raises(ValueError, match='out_indices'):
        DenseNet3D(out_indices=(0, 3))
    with pytest.raises(ValueError, match='5-D|\\(N, C, D, H, W\\)'):
        DenseNet3D(num_slices=3, **SMALL)(torch.rand(1, 3, 32, 32))


def test_densenet3d_pretrained_2d_rgb_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = DenseNet3D(num_slices=3, context_conv=dict(type='I3DConv'), **SMALL)
    state = {f'features.{k}': v.clone() for k, v in model.state_dict().items()}
    rgb = torch.randn(16, 3, 7, 7)
    state['features.conv0.weight'] = rgb
    w2d = torch.randn(8, 16, 3, 3)
    state['features.denseblock1.denselayer1.conv2.weight'] = w2d  # a 2D kernel, inflated for I3D
    path = str(tmp_path / 'densenet2d.pth')
    torch.save(state, path)
    loaded = DenseNet3D(num_slices=3, context_conv=dict(type='I3DConv'),
                        init_cfg=dict(type='Pretrained2D', checkpoint=path, prefix='features.'), **SMALL)
    loaded.init_weights()
    torch.testing.assert_close(loaded.conv0.weight, rgb.sum(1, keepdim=True))
    inflated = loaded.denseblock1.denselayer1.conv2.weight
    assert inflated.shape == (8, 16, 3, 3, 3)
    torch.testing.assert_close(inflated[:, :, 1], w2d / 3)


def test_tsm_backbone_differs_from_nofusion_only_by_operator():
    a = DenseNet3D(num_slices=3, context_conv=dict(type='TSMConv'), **SMALL)
    b = DenseNet3D(num_slices=3, context_conv=dict(type='NoFusionConv'), **SMALL)
    assert isinstance(a.denseblock1.denselayer1.conv1, TSMConv)
    assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}
