"""D' -> D weight transfer: each rule's stated equivalence, whole detectors, the tool."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmdet.registry import MODELS
from mmdet3dctx.apis import read_config
from mmdet3dctx.ops import A3DConv
from mmdet3dctx.pretraining.slice_transfer import (transfer_a3d_matrix, transfer_depth_kernel,
                                                   transfer_state_dict)
from mmdet3dctx.testing.tiny_detector import random_ct_batch, tiny_model_cfg

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture
def tool(load_tool):
    return load_tool('transfer_weights')


def _reduction(num_slices, mode, seed):
    torch.manual_seed(seed)
    m = MODELS.build(dict(type='SliceReduction', in_channels=[4, 6], num_slices=num_slices, mode=mode)).eval()
    with torch.no_grad():  # GTM starts as a plain random init as well
        for p in m.parameters():
            p.normal_()
    return m


def _transferred(src, dst, inflate='center'):
    sd, rows = transfer_state_dict(src.state_dict(), dst, inflate=inflate)
    dst.load_state_dict(sd)
    return dst, rows


def _levels(d, seed=0, constant=False):
    g = torch.Generator().manual_seed(seed)
    xs = [torch.randn(2, c, 1 if constant else d, 8, 8, generator=g) for c in (4, 6)]
    return [x.expand(-1, -1, d, -1, -1).contiguous() for x in xs] if constant else xs


def test_depth_kernel_values():
    w = torch.arange(1., 4.).view(1, 1, 3, 1, 1)
    assert transfer_depth_kernel(w, 7).flatten().tolist() == [0, 0, 1, 2, 3, 0, 0]
    assert transfer_depth_kernel(w, 1).flatten().tolist() == [2]
    assert transfer_depth_kernel(w, 4, 'average').flatten().tolist() == [1.5] * 4
    gtm = torch.arange(1., 6.).view(1, 5, 1, 1)
    assert transfer_depth_kernel(gtm, 3, dim=1).flatten().tolist() == [2, 3, 4]
    with pytest.raises(ValueError, match='inflate mode'):
        transfer_depth_kernel(w, 5, 'nearest')


@pytest.mark.parametrize('mode', ['conv', 'gtm'])
def test_center_up_equals_source_on_central_slices(mode):
    src, dst = _reduction(3, mode, 0), _reduction(7, mode, 1)
    dst, rows = _transferred(src, dst)
    assert {r.action for r in rows} == {'mapped'}
    x7 = _levels(7)
    with torch.no_grad():
        for a, b in zip(dst(x7), src([x[:, :, 2:5] for x in x7])):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('mode', ['conv', 'gtm'])
def test_center_down_equals_source_on_zero_padded_input(mode):
    src, dst = _reduction(7, mode, 0), _reduction(3, mode, 1)
    dst, _ = _transferred(src, dst)
    x3 = _levels(3)
    with torch.no_grad():
        padded = [F.pad(x, (0, 0, 0, 0, 2, 2)) for x in x3]
        for a, b in zip(dst(x3), src(padded)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('mode', ['conv', 'gtm'])
@pytest.mark.parametrize('slices', [(3, 7), (9, 5)])
def test_average_equals_source_on_equal_slices(mode, slices):
    src, dst = _reduction(slices[0], mode, 0), _reduction(slices[1], mode, 1)
    dst, _ = _transferred(src, dst, inflate='average')
    with torch.no_grad():
        for a, b in zip(dst(_levels(slices[1], constant=True)), src(_levels(slices[0], constant=True))):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def _a3d(num_slices, seed):
    torch.manual_seed(seed)
    return A3DConv(6, 8, 3, padding=1, num_slices=num_slices, init_noise=0.3).eval()


def test_a3d_embedding_in_identity():
    src, dst = _a3d(3, 0), _a3d(7, 1)
    dst, rows = _transferred(src, dst)
    assert [r.action for r in rows if r.key == 'fusion_weight'] == ['mapped']
    p = dst.fusion_weight
    torch.testing.assert_close(p[2:5, 2:5], src.fusion_weight, rtol=0, atol=0)
    torch.testing.assert_close(p[0, 0], torch.ones(6))
    assert p[0, 1:].abs().sum() == 0 and p[2:5, :2].abs().sum() == 0
    x = torch.randn(2, 6, 7, 10, 10)
    with torch.no_grad():
        out = dst(x)
        torch.testing.assert_close(out[:, :, 2:5], src(x[:, :, 2:5]), rtol=1e-5, atol=1e-5)
        outer = [0, 1, 5, 6]  # identity mixing: the per-slice (no fusion) conv
        torch.testing.assert_close(out[:, :, outer], src.slice_conv(x[:, :, outer]), rtol=1e-5, atol=1e-5)


def test_a3d_crop_of_block_diagonal_source():
    src, dst = _a3d(7, 0), _a3d(3, 1)
    with torch.no_grad():  # no mixing between the central 3 slices and the outer ones
        block = torch.zeros(7, 7, 1)
        block[2:5, 2:5] = 1
        block[:2, :2] = block[5:, 5:] = 1
        src.fusion_weight.mul_(block)
    dst, _ = _transferred(src, dst)
    x3 = torch.randn(2, 6, 3, 10, 10)
    x7 = torch.cat([torch.randn(2, 6, 2, 10, 10), x3, torch.randn(2, 6, 2, 10, 10)], 2)
    with torch.no_grad():
        torch.testing.assert_close(dst(x3), src(x7)[:, :, 2:5], rtol=1e-5, atol=1e-5)
    assert transfer_a3d_matrix(torch.ones(7, 7, 2), 3).shape == (3, 3, 2)
    with pytest.raises(ValueError, match=r'\(D, D, C\)'):
        transfer_a3d_matrix(torch.ones(3, 4, 2), 5)


def _detector(context_conv, num_slices, seed, num_classes=1):
    cfg = tiny_model_cfg(dict(type=context_conv), num_slices=num_slices)
    cfg.roi_head.bbox_head.num_classes = cfg.roi_head.mask_head.num_classes = num_classes
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.eval()


def _predict(model, inputs, samples):
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        results = model.predict(inputs, samples)
    return feats, results


def test_detector_same_slices_reproduced_exactly():
    src, dst = _detector('A3DConv', 3, 0), _detector('A3DConv', 3, 1)
    sd, rows = transfer_state_dict(src.state_dict(), dst)
    assert {r.action for r in rows} == {'copied'}
    dst.load_state_dict(sd)
    inputs, samples = random_ct_batch(src, num_slices=3, training=False)
    (fa, ra), (fb, rb) = _predict(src, inputs, samples), _predict(dst, inputs, samples)
    for a, b in zip(fa, fb):
        assert torch.equal(a, b)
    for a, b in zip(ra, rb):
        assert len(a.pred_instances) > 0
        assert torch.equal(a.pred_instances.bboxes, b.pred_instances.bboxes)
        assert torch.equal(a.pred_instances.scores, b.pred_instances.scores)


@pytest.mark.parametrize('op', ['NoFusionConv', 'A3DConv'])
def test_detector_3_to_7_center_equals_3_slice_model(op):
    """Per-slice layers, A3D mixing embedded in an identity and centre reduction taps: the 7-slice detector on
    any volume gives the 3-slice detector's output on its 3 central slices."""
    src, dst = _detector(op, 3, 0), _detector(op, 7, 1)
    sd, rows = transfer_state_dict(src.state_dict(), dst, inflate='center')
    mapped = [r.key for r in rows if r.action == 'mapped']
    assert sum(k.startswith('neck.reduction.reducers.') for k in mapped) == 3
    assert all(k.endswith('fusion_weight') for k in mapped if k.startswith('backbone.')) and (
        any(k.startswith('backbone.') for k in mapped) == (op == 'A3DConv'))
    dst.load_state_dict(sd)
    inputs7, samples = random_ct_batch(dst, num_slices=7, training=False)
    (fa, ra), (fb, rb) = _predict(dst, inputs7, samples), _predict(src, inputs7[:, :, 2:5].contiguous(), samples)
    for a, b in zip(fa, fb):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    for a, b in zip(ra, rb):
        assert len(a.pred_instances) > 0
        torch.testing.assert_close(a.pred_instances.bboxes, b.pred_instances.bboxes, rtol=1e-4, atol=1e-3)
        torch.testing.assert_close(a.pred_instances.scores, b.pred_instances.scores, rtol=1e-4, atol=1e-5)


def test_class_specific_layers_reinitialised():
    src, dst = _detector('A3DConv', 3, 0, num_classes=80), _detector('A3DConv', 7, 1, num_classes=1)
    fresh = {k: v.clone() for k, v in dst.state_dict().items()}
    sd, rows = transfer_state_dict(src.state_dict(), dst)
    reinit = {r.key: r.note for r in rows if r.action == 're-initialised'}
    assert reinit == {f'roi_head.{k}': 'class-specific' for k in (
        'bbox_head.fc_cls.weight', 'bbox_head.fc_cls.bias', 'bbox_head.fc_reg.weight', 'bbox_head.fc_reg.bias',
        'mask_head.conv_logits.weight', 'mask_head.conv_logits.bias')}
    for k in reinit:
        assert torch.equal(sd[k], fresh[k])
    torch.testing.assert_close(sd['roi_head.bbox_head.shared_fcs.0.weight'],
                               src.state_dict()['roi_head.bbox_head.shared_fcs.0.weight'], rtol=0, atol=0)


def test_transfer_weights_tool(tmp_path, capsys, tool):
    src = _detector('A3DConv', 3, 0, num_classes=80)
    ckpt = tmp_path / 'coco3.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=src.state_dict()), ckpt)
    cfg_path = tmp_path / 'tiny_7slice.py'
    Config(dict(model=tiny_model_cfg(dict(type='A3DConv'), num_slices=7))).dump(str(cfg_path))
    out = tmp_path / 'out' / 'a3d7.pth'
    tool = tool
    argv = [str(ckpt), '--config', str(cfg_path), '--out', str(out)]
    assert tool.main(argv) == 0
    text = capsys.readouterr().out
    assert 'neck.reduction.reducers.0.weight' in text and 'reduction-conv, center: 3 -> 7 slices' in text
    assert 'class-specific' in text and 'total:' in text and 're-initialised' in text
    saved = torch.load(out, weights_only=True)
    assert saved['meta']['inflate'] == 'center' and saved['meta']['num_re_initialised'] == 6
    dst = MODELS.build(tiny_model_cfg(dict(type='A3DConv'), num_slices=7))
    dst.load_state_dict(saved['state_dict'], strict=True)
    torch.testing.assert_close(dst.neck.reduction.reducers[0].weight[:, :, 2:5],
                               src.neck.reduction.reducers[0].weight, rtol=0, atol=0)
    before = out.stat().st_mtime_ns
    assert tool.main(argv) == 1  # never overwrites without --force
    assert 'exists; pass --force' in capsys.readouterr().err and out.stat().st_mtime_ns == before
    assert tool.main(argv + ['--force', '--inflate', 'average']) == 0
    assert torch.load(out, weights_only=True)['meta']['inflate'] == 'average'
    assert tool.main([str(tmp_path / 'missing.pth'), '--config', str(cfg_path), '--out', str(tmp_path / 'x.pth')]) == 1
    assert 'not found' in capsys.readouterr().err


def test_transfer_weights_tool_ignores_the_targets_2d_weights(tmp_path, monkeypatch, capsys, tool):
    """A target config that starts from published 2D weights (as the paper configs do): every backbone tensor
    comes from the source, so nothing is fetched (the download here would fail)."""
    def offline(url, *args, **kwargs):
        raise AssertionError(f'downloaded {url}')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', offline)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    src = _detector('A3DConv', 3, 0)
    ckpt = tmp_path / 'a3d3.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=src.state_dict()), ckpt)
    cfg = tiny_model_cfg(dict(type='A3DConv'), num_slices=7)
    cfg.backbone.init_cfg = dict(type='Pretrained2D',
                                 checkpoint='https://download.pytorch.org/models/densenet121-a639ec97.pth')
    cfg_path = tmp_path / 'tiny_7slice_imagenet.py'
    Config(dict(model=cfg)).dump(str(cfg_path))
    out = tmp_path / 'a3d7.pth'
    assert tool.main([str(ckpt), '--config', str(cfg_path), '--out', str(out)]) == 0
    saved = torch.load(out, weights_only=True)['state_dict']
    torch.testing.assert_close(saved['backbone.conv0.weight'], src.state_dict()['backbone.conv0.weight'], rtol=0,
                               atol=0)


def test_mp3d_gtm_detector_3_to_9_slices():
    """MP3D pseudo-3D COCO model (3 slices, 80 classes) -> 9-slice 1-class lesion detector: the GTM weights of the
    4 levels are mapped by centre inflation, class-specific layers re-initialised, everything else copied."""
    cfg = read_config(osp.join(ROOT, 'configs', 'demo', 'mp3d18_coco_pseudo3d_synthetic.py')).model
    torch.manual_seed(0)
    src = MODELS.build(cfg)
    cfg.neck.reduction.num_slices = 9
    cfg.roi_head.bbox_head.num_classes = cfg.roi_head.mask_head.num_classes = 1
    dst = MODELS.build(cfg)
    sd, rows = transfer_state_dict(src.state_dict(), dst)
    mapped = {r.key: (r.src_shape, r.dst_shape) for r in rows if r.action == 'mapped'}
    assert mapped == {f'neck.reduction.reducers.{i}.weight': ((c, 3, 1, 1), (c, 9, 1, 1))
                      for i, c in enumerate((128, 256, 512, 1024))}
    assert sum(r.action == 're-initialised' for r in rows) == 6
    assert {r.action for r in rows} == {'copied', 'mapped', 're-initialised'}
    w = sd['neck.reduction.reducers.2.weight']
    assert w[:, [0, 1, 2, 6, 7, 8]].abs().sum() == 0
    torch.testing.assert_close(w[:, 3:6], src.neck.reduction.reducers[2].weight, rtol=0, atol=0)
    dst.load_state_dict(sd, strict=True)


def test_mp3d_paper_chain_from_the_coco_pretraining_config(tmp_path, capsys, tool):
    """configs/pretrain/mp3d63_coco_pseudo3d.py -> tools/transfer_weights.py -> the checkpoint that
    configs/deeplesion/mp3d63_9slice.py loads (``load_from``), at depth 18 for speed: the GTM weights go from 3 to
    9 slices, the 80-class layers are re-initialised, the mask head (pretraining only) is left out."""
    pretrain = read_config(osp.join(ROOT, 'configs', 'pretrain', 'mp3d63_coco_pseudo3d.py'))
    assert pretrain.train_cfg.max_epochs == 72  # as in the paper
    pretrain.model.backbone.depth = 18
    torch.manual_seed(0)
    src = MODELS.build(pretrain.model)
    ckpt = tmp_path / 'epoch_72.pth'
    torch.save(dict(meta=dict(epoch=72), state_dict=src.state_dict()), ckpt)
    lesion_path = osp.join(ROOT, 'configs', 'deeplesion', 'mp3d63_9slice.py')
    lesion = read_config(lesion_path)
    out = tmp_path / 'checkpoints' / 'mp3d63_9slice_from_coco.pth'
    assert lesion.load_from == 'checkpoints/mp3d63_9slice_from_coco.pth'
    argv = [str(ckpt), '--config', lesion_path, '--out', str(out), '--cfg-options', 'model.backbone.depth=18']
    assert tool.main(argv) == 0
    assert 'gtm, center: 3 -> 9 slices' in capsys.readouterr().out
    saved = torch.load(out, weights_only=True)['state_dict']
    lesion.model.backbone.depth = 18
    dst = MODELS.build(lesion.model)
    dst.load_state_dict(saved, strict=True)
    src_sd = src.state_dict()
    torch.testing.assert_close(saved['neck.reduction.reducers.3.weight'][:, 3:6],
                               src_sd['neck.reduction.reducers.3.weight'], rtol=0, atol=0)
    for key in ('backbone.layer2.0.conv_t.conv.weight', 'backbone.stem.conv.weight', 'rpn_head.rpn_conv.weight',
                'roi_head.bbox_head.shared_fcs.1.weight'):
        torch.testing.assert_close(saved[key], src_sd[key], rtol=0, atol=0)
    assert saved['roi_head.bbox_head.fc_cls.weight'].shape[0] == 2 and not any('mask_head' in k for k in saved)
