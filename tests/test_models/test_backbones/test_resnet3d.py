import pytest
import torch

from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS
from mmdet3dctx.models import ResNet3D
from mmdet3dctx.ops import A3DConv, NoFusionConv, call_with_input_slice_interval


def _randomise_bn(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)


def test_resnet3d_nofusion_equals_2d_resnet_per_slice():
    torch.manual_seed(0)
    r2d = ResNet(depth=18, in_channels=1, out_indices=(0, 1, 2, 3))
    r2d.init_weights()
    _randomise_bn(r2d)
    r3d = ResNet3D(depth=18, num_slices=3, context_conv=dict(type='NoFusionConv'), out_indices=(0, 1, 2, 3))
    r3d.load_state_dict(r2d.state_dict())  # same names and shapes as MMDetection's ResNet
    r2d.eval(), r3d.eval()
    x = torch.randn(2, 1, 3, 64, 64)
    outs = r3d(x)
    assert [tuple(o.shape) for o in outs] == [(2, 64, 3, 16, 16), (2, 128, 3, 8, 8), (2, 256, 3, 4, 4),
                                               (2, 512, 3, 2, 2)]
    for d in range(3):
        for o, r in zip(outs, r2d(x[:, :, d])):
            torch.testing.assert_close(o[:, :, d], r, rtol=1e-4, atol=1e-4)


def test_resnet3d_operators_and_stem():
    r = MODELS.build(dict(type='ResNet3D', depth=50, num_slices=5, context_conv=dict(type='A3DConv'),
                          num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(0, 1, 2)))
    assert isinstance(r.conv1, NoFusionConv)
    assert isinstance(r.layer1[0].conv2, A3DConv) and r.layer1[0].conv2.num_slices == 5
    assert isinstance(r.norm1, torch.nn.BatchNorm3d)
    outs = r(torch.rand(1, 1, 5, 64, 64))
    assert [o.shape[1] for o in outs] == [256, 512, 1024] and all(o.shape[2] == 5 for o in outs)


def test_resnet3d_alignshift_binds_input_slice_interval_per_call():
    torch.manual_seed(0)
    r = ResNet3D(depth=18, num_slices=3, context_conv=dict(type='AlignShiftConv'))
    r.eval()  # MMDetection's ResNet.train() returns None
    x = torch.randn(2, 1, 3, 32, 32)
    a = call_with_input_slice_interval(r, x, input_slice_interval=torch.tensor([1.0, 1.0]))[-1]
    b = call_with_input_slice_interval(r, x, input_slice_interval=torch.tensor([1.0, 10.0]))[-1]
    torch.testing.assert_close(a[0], b[0])
    assert not torch.allclose(a[1], b[1])
    with pytest.raises(ValueError, match='AlignShiftConv needs `input_slice_interval`.*call_with_input_slice_interval'):
        r(x)
    with pytest.raises(ValueError, match='with_cp'):
        ResNet3D(depth=18, context_conv=dict(type='AlignShiftConv'), with_cp=True)


def test_resnet3d_loads_2d_rgb_checkpoint(tmp_path):
    torch.manual_seed(0)
    r2d = ResNet(depth=18, in_channels=3)
    r2d.init_weights()
    path = str(tmp_path / 'r18.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in r2d.state_dict().items()}}, path)
    r3d = ResNet3D(depth=18, num_slices=3, context_conv=dict(type='I3DConv'),
                   init_cfg=dict(type='Pretrained2D', checkpoint=path, prefix='backbone.'))
    r3d.init_weights()
    torch.testing.assert_close(r3d.conv1.weight, r2d.conv1.weight.sum(1, keepdim=True))
    w = r3d.layer1[0].conv1.weight
    assert w.shape == (64, 64, 3, 3, 3)
    torch.testing.assert_close(w.sum(2), r2d.layer1[0].conv1.weight, rtol=1e-5, atol=1e-6)
