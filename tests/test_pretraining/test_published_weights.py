"""The paper configs start from the published ImageNet weights: files laid out as torchvision's DenseNet-121 (old
and current key names) and ResNet-50, MMDetection's ResNet-50 and the Swin authors' Swin-T load through the
configs as a user points them at a local copy (``--cfg-options model.backbone.init_cfg.checkpoint=...``), and the
values arrive where they belong. URLs: downloaded once into torch.hub's cache; offline, the error says what to
do. Nothing is downloaded here (the download is replaced)."""
import os.path as osp
import shutil
from urllib.error import URLError

import pytest
import torch

from mmdet.models.backbones.swin import swin_converter
from mmdet.registry import MODELS
from mmdet3dctx.apis import read_config
from mmdet3dctx.utils import read_state_dict
from mmdet3dctx.testing.published_checkpoints import (densenet121_torchvision, resnet50_mmdet, resnet50_torchvision,
                                                     swin_tiny_original)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DENSENET_URL = 'https://download.pytorch.org/models/densenet121-a639ec97.pth'
RESNET50_URL = 'https://download.pytorch.org/models/resnet50-0676ba61.pth'
SWIN_T_URL = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth'


@pytest.fixture
def no_download(monkeypatch, tmp_path):
    """An empty torch.hub cache and a download that fails as it does offline; returns the requested URLs."""
    calls = []

    def offline(url, dst, *args, **kwargs):
        calls.append(url)
        raise URLError('[Errno -3] Temporary failure in name resolution')

    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setattr(torch.hub, 'download_url_to_file', offline)
    return calls


def _config(name, **options):
    """The config as ``tools/train.py CONFIG --cfg-options KEY=VALUE ...`` reads it."""
    return read_config(osp.join(ROOT, 'configs', name), options)


def _init_from(name, checkpoint, **options):
    cfg = _config(name, **{'model.backbone.init_cfg.checkpoint': str(checkpoint), **options})
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def _save(obj, path, legacy=False):
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


@pytest.fixture(scope='module')
def densenet_files(tmp_path_factory):
    d = tmp_path_factory.mktemp('densenet')
    old, new = densenet121_torchvision(old_keys=True, seed=1), densenet121_torchvision(old_keys=False, seed=1)
    # the published file predates PyTorch's zip format: written here in the legacy one too
    return dict(old=(old, _save(old, d / 'densenet121-a639ec97.pth', legacy=True)),
                new=(new, _save(new, d / 'densenet121.pth')))


@pytest.fixture(scope='module')
def resnet50_files(tmp_path_factory):
    d = tmp_path_factory.mktemp('resnet50')
    tv, det = resnet50_torchvision(seed=2), resnet50_mmdet(seed=2)
    return dict(torchvision=(tv, _save(tv, d / 'resnet50-0676ba61.pth')),
                mmdet=(det['state_dict'], _save(det, d / 'faster_rcnn_r50.pth')))


@pytest.fixture(scope='module')
def swin_file(tmp_path_factory):
    ckpt = swin_tiny_original(seed=3)
    return ckpt['model'], _save(ckpt, tmp_path_factory.mktemp('swin') / 'swin_tiny_patch4_window7_224.pth')


def test_published_layouts_have_the_real_shapes(densenet_files, resnet50_files, swin_file):
    old, new = densenet_files['old'][0], densenet_files['new'][0]
    assert old['features.conv0.weight'].shape == (64, 3, 7, 7)
    assert old['features.denseblock1.denselayer1.norm.1.weight'].shape == (64, )
    assert old['features.denseblock1.denselayer1.conv.1.weight'].shape == (128, 64, 1, 1)
    assert old['features.denseblock1.denselayer1.conv.2.weight'].shape == (32, 128, 3, 3)
    assert old['features.denseblock3.denselayer24.conv.1.weight'].shape == (128, 992, 1, 1)
    assert old['features.transition3.conv.weight'].shape == (512, 1024, 1, 1)
    assert old['classifier.weight'].shape == (1000, 1024)
    assert new['features.denseblock1.denselayer1.conv2.weight'].shape == (32, 128, 3, 3)
    assert not any('num_batches_tracked' in k for k in old) and len(new) == len(old) + 121  # 121 BN layers
    tv = resnet50_files['torchvision'][0]
    assert tv['conv1.weight'].shape == (64, 3, 7, 7) and tv['fc.weight'].shape == (1000, 2048)
    assert tv['layer4.2.conv3.weight'].shape == (2048, 512, 1, 1) and tv['layer3.0.downsample.0.weight'].shape == (
        1024, 512, 1, 1)
    swin = swin_file[0]
    assert swin['patch_embed.proj.weight'].shape == (96, 3, 4, 4)
    assert swin['layers.0.blocks.0.attn.qkv.weight'].shape == (288, 96)
    assert swin['layers.0.blocks.0.attn.relative_position_bias_table'].shape == (169, 3)
    assert swin['layers.2.blocks.5.attn.relative_position_bias_table'].shape == (169, 12)
    assert swin['layers.0.downsample.reduction.weight'].shape == (192, 384)
    assert swin['norm.weight'].shape == (768, ) and swin['head.weight'].shape == (1000, 768)


def test_paper_configs_point_at_the_published_weights():
    for name in ('deeplesion/a3d_7slice.py', 'deeplesion/a3d_3slice.py', 'deeplesion/nofusion_7slice.py',
                 'deeplesion/i3d_3slice.py', 'deeplesion/alignshift_7slice.py', 'deeplesion/tsm_3slice.py'):
        assert _config(name).model.backbone.init_cfg == dict(type='Pretrained2D', checkpoint=DENSENET_URL), name
    for name in ('deeplesion/resnet50_a3d_7slice.py', 'deeplesion_2d/3dce_r50_9slice.py',
                 'deeplesion_2d/thickened_esm_ssa_r50_9slice.py'):
        assert _config(name).model.backbone.init_cfg == dict(type='Pretrained2D', checkpoint=RESNET50_URL), name
    for name in ('deeplesion_2d/swin_t_center_7slice.py', 'deeplesion_2d/swin_t_average_7slice.py'):
        cfg = _config(name)
        assert cfg.model.backbone.init_cfg == dict(type='Pretrained2D', checkpoint=SWIN_T_URL), name
        assert cfg.load_from is None
    mp3d = _config('deeplesion/mp3d63_9slice.py')
    assert mp3d.load_from == 'checkpoints/mp3d63_9slice_from_coco.pth' and not mp3d.model.backbone.get('init_cfg')


@pytest.mark.parametrize('form', ['old', 'new'])
def test_densenet121_into_the_a3d_config(densenet_files, form, log_messages):
    src, path = densenet_files[form]
    model = _init_from('deeplesion/a3d_7slice.py', path)
    bb = model.backbone
    key = 'features.denseblock1.denselayer1.conv.2.weight' if form == 'old' else \
        'features.denseblock1.denselayer1.conv2.weight'
    torch.testing.assert_close(bb.denseblock1.denselayer1.conv2.weight, src[key], rtol=0, atol=0)
    norm = 'norm.1' if form == 'old' else 'norm1'
    torch.testing.assert_close(bb.denseblock3.denselayer24.norm1.running_var,
                               src[f'features.denseblock3.denselayer24.{norm}.running_var'], rtol=0, atol=0)
    torch.testing.assert_close(bb.transition2.conv.weight, src['features.transition2.conv.weight'], rtol=0, atol=0)
    # the grey stem is the sum of the RGB kernels (exact for a grey image fed as RGB)
    torch.testing.assert_close(bb.conv0.weight, src['features.conv0.weight'].sum(1, keepdim=True))
    report = bb.pretrained_2d_report
    assert report['rgb_reduced'] == ['conv0.weight']
    missing = [k for k in report['missing'] if not k.endswith('num_batches_tracked')]  # not in the old file
    assert len(missing) == 2 * (6 + 12 + 24) and all(k.endswith('.fusion_weight') for k in missing)  # A3D's own
    assert report['skipped']['classifier.weight'] == 'classification head'
    assert set(report['skipped'].values()) == {'classification head', 'final norm (after the dropped block 4)',
                                               'not in the model'}  # no shape mismatch
    text = '\n'.join(log_messages)
    assert f'Pretrained2D: DenseNet3D <- {path}' in text
    assert 'loaded: conv*.weight, norm*.weight' in text and 'denseblock*.denselayer*.conv*.weight (' in text
    assert 'classifier.weight (classification head)' in text and 'norm*.weight (final norm' in text
    assert 'denseblock*.denselayer*.conv*.fusion_weight (84)' in text


def test_densenet121_green_stem_and_i3d_inflation(densenet_files):
    src, path = densenet_files['old']
    model = _init_from('deeplesion/i3d_3slice.py', path, **{'model.backbone.init_cfg.rgb_to_grey': 'green'})
    bb = model.backbone
    torch.testing.assert_close(bb.conv0.weight, src['features.conv0.weight'][:, 1:2], rtol=0, atol=0)
    w = bb.denseblock2.denselayer7.conv2.weight  # I3D: the 3x3 kernel averaged over 3 depth taps
    assert w.shape == (32, 128, 3, 3, 3)
    torch.testing.assert_close(w.sum(2), src['features.denseblock2.denselayer7.conv.2.weight'])
    torch.testing.assert_close(w[:, :, 0], w[:, :, 2], rtol=0, atol=0)


def test_resnet50_torchvision_into_the_resnet3d_config(resnet50_files):
    src, path = resnet50_files['torchvision']
    bb = _init_from('deeplesion/resnet50_a3d_7slice.py', path).backbone
    torch.testing.assert_close(bb.conv1.weight, src['conv1.weight'].sum(1, keepdim=True))
    torch.testing.assert_close(bb.layer3[5].conv2.weight, src['layer3.5.conv2.weight'], rtol=0, atol=0)
    torch.testing.assert_close(bb.layer2[0].downsample[1].running_mean, src['layer2.0.downsample.1.running_mean'],
                               rtol=0, atol=0)
    skipped = bb.pretrained_2d_report['skipped']
    assert skipped['fc.weight'] == 'classification head' and skipped['layer4.0.conv1.weight'] == 'not in the model'
    assert all(k.startswith(('fc.', 'layer4.')) for k in skipped)  # no shape mismatch (3 stages in the config)


@pytest.mark.parametrize('form', ['torchvision', 'mmdet'])
def test_resnet50_into_the_3dce_config(resnet50_files, form):
    src, path = resnet50_files[form]
    p = '' if form == 'torchvision' else 'backbone.'
    bb = _init_from('deeplesion_2d/3dce_r50_9slice.py', path).backbone
    torch.testing.assert_close(bb.conv1.weight, src[f'{p}conv1.weight'], rtol=0, atol=0)  # each group is RGB
    torch.testing.assert_close(bb.layer4[2].conv3.weight, src[f'{p}layer4.2.conv3.weight'], rtol=0, atol=0)
    torch.testing.assert_close(bb.bn1.running_var, src[f'{p}bn1.running_var'], rtol=0, atol=0)
    report = bb.pretrained_2d_report
    assert report['missing'] and all(k.startswith('fusion_convs.') or k.endswith('num_batches_tracked')
                                      for k in report['missing'])
    fusion = bb.fusion_convs['0'].weight[:, :, 0, 0]  # the 3DCE fusion still picks the key group
    torch.testing.assert_close(fusion[:, 256:512], torch.eye(256), rtol=0, atol=0)
    if form == 'mmdet':
        assert report['skipped'] == {'neck.lateral_convs.0.conv.weight': 'not in the model'}
    else:
        assert report['skipped'] == {'fc.weight': 'classification head', 'fc.bias': 'classification head'}


@pytest.mark.parametrize('config,inflate', [('swin_t_center_7slice.py', 'center'),
                                            ('swin_t_average_7slice.py', 'average')])
def test_swin_t_into_the_swin_configs(swin_file, config, inflate):
    src, path = swin_file
    bb = _init_from(f'deeplesion_2d/{config}', path).backbone
    grey = src['patch_embed.proj.weight'].sum(1)
    w = bb.patch_embed.projection.weight
    assert w.shape == (96, 7, 4, 4)
    if inflate == 'center':
        torch.testing.assert_close(w[:, 3], grey)
        assert w[:, [0, 1, 2, 4, 5, 6]].abs().sum() == 0
    else:
        torch.testing.assert_close(w, grey[:, None].expand(-1, 7, -1, -1) / 7)
    attn = bb.stages[2].blocks[5].attn.w_msa
    torch.testing.assert_close(attn.qkv.weight, src['layers.2.blocks.5.attn.qkv.weight'], rtol=0, atol=0)
    torch.testing.assert_close(attn.relative_position_bias_table,
                               src['layers.2.blocks.5.attn.relative_position_bias_table'], rtol=0, atol=0)
    torch.testing.assert_close(bb.stages[0].blocks[1].ffn.layers[0][0].weight, src['layers.0.blocks.1.mlp.fc1.weight'],
                               rtol=0, atol=0)
    converted = swin_converter(src)  # MMDetection's own conversion of the merging layers
    torch.testing.assert_close(bb.stages[0].downsample.reduction.weight,
                               converted['backbone.stages.0.downsample.reduction.weight'], rtol=0, atol=0)
    report = bb.pretrained_2d_report
    assert report['rgb_reduced'] == report['inflated'] == ['patch_embed.projection.weight']
    assert report['missing'] == [f'norm{i}.{p}' for i in range(4) for p in ('weight', 'bias')]  # output norms
    skipped = report['skipped']
    assert not [k for k, why in skipped.items() if why.startswith('shape')]  # every shape as MMDetection's Swin-T
    assert skipped['head.weight'] == 'classification head' and skipped['norm.weight'] == 'not in the model'
    assert skipped['stages.0.blocks.1.attn_mask'] == 'not in the model'


def test_offline_error_names_the_url_and_the_option(no_download):
    cfg = _config('deeplesion/a3d_7slice.py')
    backbone = MODELS.build(cfg.model.backbone)
    with pytest.raises(RuntimeError) as info:
        backbone.init_weights()
    msg = str(info.value)
    assert no_download == [DENSENET_URL]
    assert f'cannot download {DENSENET_URL}' in msg and 'Temporary failure in name resolution' in msg
    assert '--cfg-options model.backbone.init_cfg.checkpoint=/path/to/densenet121-a639ec97.pth' in msg


def test_url_downloads_once_into_the_torch_hub_cache(monkeypatch, tmp_path, resnet50_files):
    src, path = resnet50_files['torchvision']
    calls = []

    def download(url, dst, *args, **kwargs):
        calls.append(url)
        shutil.copy(path, dst)

    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setattr(torch.hub, 'download_url_to_file', download)
    first = read_state_dict('torchvision://resnet50')  # MMDetection's name of the same file
    second = read_state_dict(RESNET50_URL)
    assert calls == [RESNET50_URL]
    assert osp.isfile(tmp_path / 'torch_home' / 'hub' / 'checkpoints' / 'resnet50-0676ba61.pth')
    torch.testing.assert_close(first['layer1.0.conv2.weight'], src['layer1.0.conv2.weight'], rtol=0, atol=0)
    assert list(first) == list(second) == list(src)


def test_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='checkpoint file not found: .*nothing.pth'):
        read_state_dict(str(tmp_path / 'nothing.pth'))
    torch.save({'meta': {'epoch': 1}}, tmp_path / 'empty.pth')
    with pytest.raises(ValueError, match='empty.pth: no state dict of tensors'):
        read_state_dict(str(tmp_path / 'empty.pth'))
    with pytest.raises(ValueError, match='unsupported scheme'):
        read_state_dict('s3://bucket/resnet50.pth')
    with pytest.raises(KeyError, match='torchvision://resnet51: unknown model name'):
        read_state_dict('torchvision://resnet51')
