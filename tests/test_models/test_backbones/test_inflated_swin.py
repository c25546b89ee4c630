import pytest
import torch

from mmdet.models.backbones import SwinTransformer
from mmdet3dctx.models.backbones.inflated_swin import InflatedSwinTransformer
from mmdet3dctx.ops import inflate_patch_embedding

TINY = dict(embed_dims=24, depths=(1, 1, 1, 1), num_heads=(1, 2, 3, 4), window_size=4, drop_path_rate=0.0)


def swin2d():
    torch.manual_seed(0)
    m = SwinTransformer(in_channels=3, **TINY)
    m.init_weights()
    m.eval()  # SwinTransformer.train() does not return the module
    return m


def test_center_inflation_equals_2d_model_on_key_slice():
    m2d = swin2d()
    m3d = InflatedSwinTransformer(num_slices=7, inflate='center', **TINY)
    m3d.eval()
    m3d.load_state_dict(m3d.convert_2d_state_dict(m2d.state_dict())[0], strict=True)
    x = torch.randn(2, 1, 7, 64, 64)
    key_as_rgb = x[:, :, 3].expand(-1, 3, -1, -1)  # grey fed as RGB
    with torch.no_grad():
        for a, b in zip(m3d(x), m2d(key_as_rgb)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_average_inflation_equals_2d_model_on_equal_slices():
    m2d = swin2d()
    m3d = InflatedSwinTransformer(num_slices=5, inflate='average', **TINY)
    m3d.eval()
    m3d.load_state_dict(m3d.convert_2d_state_dict(m2d.state_dict())[0], strict=True)
    s = torch.randn(1, 1, 1, 64, 64)
    with torch.no_grad():
        for a, b in zip(m3d(s.expand(-1, -1, 5, -1, -1)), m2d(s[:, :, 0].expand(-1, 3, -1, -1))):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_pretrained_init_from_a_detector_checkpoint(tmp_path):
    m2d = swin2d()
    path = tmp_path / 'swin2d_det.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in m2d.state_dict().items()}, 'meta': {}}, path)
    m3d = InflatedSwinTransformer(num_slices=3, inflate='center',
                                  init_cfg=dict(type='Pretrained2D', checkpoint=str(path)), **TINY)
    m3d.init_weights()
    w = m3d.patch_embed.projection.weight
    assert torch.equal(w[:, 1], m2d.patch_embed.projection.weight.sum(1)) and w[:, [0, 2]].abs().sum() == 0
    assert torch.equal(m3d.stages[0].blocks[0].attn.w_msa.qkv.weight, m2d.stages[0].blocks[0].attn.w_msa.qkv.weight)
    torch.save({'state_dict': {'head.fc.weight': torch.zeros(2, 2)}}, tmp_path / 'other.pth')
    bad = InflatedSwinTransformer(num_slices=3, init_cfg=dict(type='Pretrained2D',
                                                              checkpoint=str(tmp_path / 'other.pth')), **TINY)
    with pytest.raises(RuntimeError, match='no key of .*other.pth matches InflatedSwinTransformer'):
        bad.init_weights()


def test_patch_embedding_helper_and_errors():
    w = torch.randn(8, 3, 4, 4)
    avg = inflate_patch_embedding(w, 4, 'average')
    torch.testing.assert_close(avg.sum(1), w.sum(1))
    with pytest.raises(ValueError, match='patch embedding'):
        inflate_patch_embedding(torch.randn(8, 2, 4, 4), 3)
    m = InflatedSwinTransformer(num_slices=3, **TINY)
    with pytest.raises(ValueError, match='built for 3 slices, got 5'):
        m(torch.randn(1, 1, 5, 32, 32))
    with pytest.raises(ValueError, match='set num_slices'):
        InflatedSwinTransformer(in_channels=3)
