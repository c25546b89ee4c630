import numpy as np
from mmdet.registry import TRANSFORMS

import mmdet3dctx.datasets  # noqa: F401  (registers the transforms)


def test_pack_ct_inputs_carries_the_ct_meta_keys():
    img = np.arange(4 * 6 * 3, dtype=np.float32).reshape(4, 6, 3)  # (H, W, D)
    results = dict(img=img, img_id=7, img_path='a/b.png', ori_shape=(4, 6), img_shape=(4, 6), slice_interval=5.0,
                   input_slice_interval=2.0, instances=[dict(bbox=[0, 0, 1, 1])], file_name='b.png', split=3,
                   key_slice=12)
    packed = TRANSFORMS.build(dict(type='PackCTInputs'))(results)
    assert tuple(packed['inputs'].shape) == (3, 4, 6)
    np.testing.assert_array_equal(packed['inputs'][1].numpy(), img[..., 1])
    meta = packed['data_samples'].metainfo
    assert (meta['slice_interval'], meta['input_slice_interval'], meta['file_name'], meta['split']) == \
        (5.0, 2.0, 'b.png', 3)
    assert meta['instances'] == [dict(bbox=[0, 0, 1, 1])] and meta['img_id'] == 7
    assert 'key_slice' not in meta and 'slice_order' not in meta  # not a meta key / absent from the sample


def test_pack_ct_inputs_takes_pseudo3d_keys_and_explicit_meta_keys():
    results = dict(img=np.zeros((4, 6, 3), np.float32), img_id=1, slice_order=(2, 0, 1), input_slice_interval=2.0)
    meta = TRANSFORMS.build(dict(type='PackCTInputs'))(dict(results))['data_samples'].metainfo
    assert meta == dict(img_id=1, slice_order=(2, 0, 1), input_slice_interval=2.0)
    meta = TRANSFORMS.build(dict(type='PackCTInputs', meta_keys=('img_id', )))(dict(results))['data_samples'].metainfo
    assert meta == dict(img_id=1)
