"""Pretrained2D: 2D (RGB) checkpoints into DenseNet3D / ResNet3D / MP3DResNet, checked slice by slice."""

import logging

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.registry import WEIGHT_INITIALIZERS

from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS
from mmdet3dctx.pretraining import Pretrained2DInit
from mmdet3dctx.testing.torchvision_densenet import TVDenseNet, randomise


def _grey_volume(num_slices=3, size=64, identical=False):
    x = torch.rand(1, 1, 1 if identical else num_slices, size, size)
    return x.expand(-1, -1, num_slices, -1, -1).contiguous() if identical else x


def _per_slice_2d(fn, x):
    """Run the 2D network on each slice fed as an RGB image with R = G = B; stack outputs over depth."""
    outs = [fn(x[:, :, d].expand(-1, 3, -1, -1)) for d in range(x.shape[2])]
    return [torch.stack([o[i] for o in outs], 2) for i in range(len(outs[0]))]


def _build(cfg, path, **init):
    model = MODELS.build(dict(cfg, init_cfg=dict(type='Pretrained2D', checkpoint=str(path), **init)))
    model.init_weights()
    model.eval()  # MMDetection's ResNet.train() returns None
    return model


def test_registered():
    assert WEIGHT_INITIALIZERS.get('Pretrained2D') is Pretrained2DInit


@pytest.fixture(scope='module')
def densenet_ckpt(tmp_path_factory):
    torch.manual_seed(1)
    net = randomise(TVDenseNet(), seed=1)
    path = tmp_path_factory.mktemp('ckpt') / 'densenet121.pth'
    torch.save(net.state_dict(), path)  # torchvision layout: features.*, classifier.*
    return net, path


@pytest.mark.parametrize('old_keys', [False, True])
def test_densenet121_nofusion_reproduces_2d(densenet_ckpt, tmp_path, old_keys, log_messages):
    net, path = densenet_ckpt
    if old_keys:  # the layout of the original torchvision release: norm.1 instead of norm1
        import re
        sd = {re.sub(r'(denselayer\d+\.(?:norm|conv))([12])\.', r'\1.\2.', k): v for k, v in net.state_dict().items()}
        assert any('.norm.1.' in k for k in sd)
        path = tmp_path / 'densenet121_old.pth'
        torch.save(sd, path)
    model = _build(dict(type='DenseNet3D', num_slices=3, context_conv=dict(type='NoFusionConv')), path)
    report = model.pretrained_2d_report
    assert report['missing'] == [] and report['rgb_reduced'] == ['conv0.weight']
    skipped = report['skipped']
    assert skipped['classifier.weight'] == 'classification head'
    assert skipped['norm5.weight'].startswith('final norm')
    assert skipped['denseblock4.denselayer1.conv1.weight'] == 'not in the model'
    assert skipped['transition3.conv.weight'] == 'not in the model'
    assert len(report['loaded']) + len(skipped) == len(net.state_dict())
    x = _grey_volume()
    with torch.no_grad():
        out3d = model(x)
        ref = _per_slice_2d(lambda im: net.blocks(im)[:3], x)
    assert len(out3d) == 3
    for o, r in zip(out3d, ref):
        assert o.shape == r.shape
        torch.testing.assert_close(o, r, rtol=1e-4, atol=1e-4)
    text = '\n'.join(log_messages)
    assert 'Pretrained2D: DenseNet3D' in text and 'loaded:' in text and 'skipped:' in text and 'missing' in text
    assert 'classifier.weight (classification head)' in text


def test_densenet121_a3d_loads_kernels_keeps_fusion_init(densenet_ckpt):
    net, path = densenet_ckpt
    model = _build(dict(type='DenseNet3D', num_slices=3, context_conv=dict(type='A3DConv')), path)
    report = model.pretrained_2d_report
    assert report['missing'] and all(k.endswith('fusion_weight') for k in report['missing'])
    src = net.state_dict()
    torch.testing.assert_close(model.denseblock2.denselayer3.conv2.weight,
                               src['features.denseblock2.denselayer3.conv2.weight'], rtol=0, atol=0)
    torch.testing.assert_close(model.conv0.weight, src['features.conv0.weight'].sum(1, keepdim=True))
    # the fusion weights keep A3D's own initialisation: identity + U(-0.1, 0.1)
    p = model.denseblock1.denselayer1.conv1.fusion_weight
    assert (p - torch.eye(3)[..., None]).abs().max() <= 0.1


@pytest.fixture(scope='module')
def resnet18_ckpt(tmp_path_factory):
    torch.manual_seed(2)
    net = randomise(ResNet(depth=18), seed=2)
    path = tmp_path_factory.mktemp('ckpt') / 'r18_det.pth'
    # an MMDetection detector checkpoint: backbone weights under 'backbone.' in 'state_dict', plus a head
    sd = {f'backbone.{k}': v for k, v in net.state_dict().items()}
    sd['rpn_head.rpn_conv.weight'] = torch.zeros(4, 4, 3, 3)
    torch.save(dict(meta=dict(epoch=1), state_dict=sd), path)
    return net, path


@pytest.mark.parametrize('conv,inflate', [(dict(type='NoFusionConv'), None),
                                          (dict(type='I3DConv', inflate='center'), 'center'),
                                          (dict(type='I3DConv', inflate='center'), None)])
def test_resnet_reproduces_2d(resnet18_ckpt, conv, inflate):
    """Per-slice operators, or I3D kernels centre-inflated (given here or, by default, the operator's own)."""
    net, path = resnet18_ckpt
    model = _build(dict(type='ResNet3D', depth=18, num_slices=3, context_conv=conv), path, inflate=inflate)
    report = model.pretrained_2d_report
    assert report['missing'] == []
    assert report['skipped'] == {'rpn_head.rpn_conv.weight': 'not in the model'}
    if conv['type'] == 'I3DConv':  # 16 residual-stage 3x3 kernels inflated to 3x3x3 (1x1 downsamples too)
        assert 'layer1.0.conv1.weight' in report['inflated'] and model.layer1[0].conv1.weight.shape[2] == 3
        w = model.layer1[0].conv1.weight
        assert w[:, :, 0].abs().sum() == 0 and w[:, :, 2].abs().sum() == 0
    x = _grey_volume()
    with torch.no_grad():
        out3d = model(x)
        ref = _per_slice_2d(net, x)
    for o, r in zip(out3d, ref):
        torch.testing.assert_close(o, r, rtol=1e-4, atol=1e-4)


def test_resnet_average_inflation_on_identical_slices(resnet18_ckpt):
    """Average inflation is exact on a volume whose slices are all equal (zero padding aside: D large)."""
    net, path = resnet18_ckpt
    model = _build(dict(type='ResNet3D', depth=18, num_slices=3, context_conv=dict(type='I3DConv'),
                        out_indices=(0, )), path, inflate='average')
    w = model.layer1[0].conv2.weight
    torch.testing.assert_close(w.sum(2), net.layer1[0].conv2.weight)
    torch.testing.assert_close(w[:, :, 0], w[:, :, 1])


def test_mp3d63_from_resnet50(tmp_path):
    torch.manual_seed(3)
    net = randomise(ResNet(depth=50, style='caffe'), seed=3)  # MP3D carries the stride in the first 1x1 conv
    path = tmp_path / 'r50.pth'
    torch.save(net.state_dict(), path)
    model = _build(dict(type='MP3DResNet', depth=63, norm_cfg=dict(type='BN3d')), path)
    report = model.pretrained_2d_report
    assert report['skipped'] == {}
    assert len(report['depth_init']) == 16
    assert report['missing'] and all('.conv_t.' in k for k in report['missing'])
    assert report['rgb_reduced'] == ['stem.conv.weight']
    # P3D-A starts as identity over depth, B and C with zero depth kernels
    wa, wb = model.layer1[0].conv_t.conv.weight, model.layer1[1].conv_t.conv.weight
    assert model.layer1[0].p3d_type == 'A' and model.layer1[1].p3d_type == 'B'
    torch.testing.assert_close(wa[:, :, 1, 0, 0], torch.eye(wa.shape[0]))
    assert wa[:, :, 0].abs().sum() == 0 and wb.abs().sum() == 0
    # the stem max-pool spans 3 slices: the converted network equals the 2D one on identical slices
    x = _grey_volume(identical=True)
    with torch.no_grad():
        out3d = model(x)
        ref = _per_slice_2d(net, x)
    for o, r in zip(out3d, ref):
        # activations of random deep nets reach 1e4; the fresh depth-conv BNs scale by 1/sqrt(1 + eps)
        assert o.shape == r.shape
        assert (o - r).abs().max() <= 1e-4 * r.abs().max()


def test_mp3d_gn_skips_bn_statistics(tmp_path):
    net = randomise(ResNet(depth=50), seed=4)
    path = tmp_path / 'r50.pth'
    torch.save(net.state_dict(), path)
    model = MODELS.build(dict(type='MP3DResNet', depth=63))  # GN(32) as in MP3D
    report = Pretrained2DInit(checkpoint=str(path)).convert(model)
    assert set(report['skipped'].values()) == {'not in the model'}
    assert all(k.endswith(('running_mean', 'running_var', 'num_batches_tracked')) for k in report['skipped'])
    torch.testing.assert_close(model.layer2[0].conv_s.conv.weight[:, :, 0], net.layer2[0].conv2.weight)
    torch.testing.assert_close(model.layer2[0].conv_s.gn.weight, net.layer2[0].bn2.weight)


def test_init_cfg_list_pretrained_last_wins(resnet18_ckpt):
    """Kaiming first, then the checkpoint; children's own init_weights do not overwrite it afterwards."""
    net, path = resnet18_ckpt
    model = MODELS.build(
        dict(type='ResNet3D', depth=18, num_slices=3, context_conv=dict(type='NoFusionConv'),
             init_cfg=[dict(type='Kaiming', layer='NoFusionConv'),
                       dict(type='Pretrained2D', checkpoint=str(path))]))
    model.init_weights()
    torch.testing.assert_close(model.layer3[1].conv2.weight, net.layer3[1].conv2.weight, rtol=0, atol=0)


class _NoConverter(BaseModule):
    """A module without ``convert_2d_state_dict``: a grey stem conv and a norm."""

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.bn1 = nn.BatchNorm2d(4)


def test_module_without_converter_gets_the_names_with_prefixes_stripped(tmp_path):
    torch.manual_seed(3)
    src = {'module.conv1.weight': torch.randn(4, 3, 3, 3), 'backbone.bn1.weight': torch.rand(4),
           'bn1.bias': torch.randn(4), 'fc.weight': torch.randn(2, 4)}
    path = tmp_path / 'plain.pth'
    torch.save(src, path)
    model = _NoConverter(init_cfg=dict(type='Pretrained2D', checkpoint=str(path)))
    model.init_weights()
    report = model.pretrained_2d_report
    torch.testing.assert_close(model.conv1.weight, src['module.conv1.weight'].sum(1, keepdim=True))
    torch.testing.assert_close(model.bn1.weight, src['backbone.bn1.weight'], rtol=0, atol=0)
    torch.testing.assert_close(model.bn1.bias, src['bn1.bias'], rtol=0, atol=0)
    assert report['rgb_reduced'] == ['conv1.weight'] and report['skipped'] == {'fc.weight': 'not in the model'}
    torch.save({'head.weight': torch.zeros(2)}, tmp_path / 'unrelated.pth')
    with pytest.raises(RuntimeError, match=r'keys renamed by prefix stripping \(no convert_2d_state_dict\)'):
        Pretrained2DInit(checkpoint=str(tmp_path / 'unrelated.pth'))(_NoConverter())


def test_initialisation_info_names_the_checkpoint(resnet18_ckpt):
    """MMEngine's record of how each parameter was initialised (dumped by the top-level ``init_weights``):
    the loaded tensors come from the checkpoint."""
    from mmengine.logging import MMLogger
    net, path = resnet18_ckpt
    logger = MMLogger.get_instance(f'init_info_{id(path)}')  # the current logger, without a log file
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger.addHandler(handler)
    try:
        _build(dict(type='ResNet3D', depth=18, num_slices=3, context_conv=dict(type='NoFusionConv')), path,
               prefix='backbone')
    finally:
        logger.removeHandler(handler)
    text = '\n'.join(messages)
    assert f'layer1.0.conv1.weight - torch.Size([64, 64, 3, 3]): \nPretrained2DInit: load from {path}' in text
    assert f'bn1.weight - torch.Size([64]): \nPretrained2DInit: load from {path}' in text


def test_errors(tmp_path):
    model = MODELS.build(dict(type='ResNet3D', depth=18, num_slices=3, context_conv=dict(type='NoFusionConv')))
    with pytest.raises(ValueError, match='unsupported scheme'):  # URLs: see test_published_weights.py
        Pretrained2DInit(checkpoint='s3://bucket/resnet18.pth')(model)
    with pytest.raises(FileNotFoundError, match='nothing_here.pth'):
        Pretrained2DInit(checkpoint=str(tmp_path / 'nothing_here.pth'))(model)
    bad = tmp_path / 'unrelated.pth'
    torch.save({'encoder.block.weight': torch.zeros(3, 3)}, bad)
    with pytest.raises(RuntimeError, match='no key of .*unrelated.pth matches ResNet3D'):
        Pretrained2DInit(checkpoint=str(bad))(model)
    with pytest.raises(RuntimeError, match="prefix='head.' matches no key"):
        Pretrained2DInit(checkpoint=str(bad), prefix='head.')(model)
    with pytest.raises(ValueError, match='rgb_to_grey'):
        Pretrained2DInit(checkpoint=str(bad), rgb_to_grey='luma')


def test_through_the_detector_init_weights(tmp_path):
    """As in a config: the detector's init_weights reaches the backbone's Pretrained2D init_cfg."""
    from mmdet3dctx.testing.tiny_detector import tiny_model_cfg
    net = randomise(TVDenseNet(growth_rate=8, block_config=(1, 1, 1, 1), num_init_features=16), seed=5)
    path = tmp_path / 'tiny_densenet.pth'
    torch.save(net.state_dict(), path)
    cfg = tiny_model_cfg(dict(type='A3DConv'), num_slices=3)
    cfg.backbone.init_cfg = dict(type='Pretrained2D', checkpoint=str(path), rgb_to_grey='mean')
    model = MODELS.build(cfg)
    model.init_weights()
    src = net.state_dict()
    torch.testing.assert_close(model.backbone.conv0.weight, src['features.conv0.weight'].mean(1, keepdim=True))
    torch.testing.assert_close(model.backbone.transition2.norm.running_var,
                               src['features.transition2.norm.running_var'])
    torch.testing.assert_close(model.backbone.denseblock3.denselayer1.conv2.weight,
                               src['features.denseblock3.denselayer1.conv2.weight'])
