import pytest
import torch

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample


def test_batches_pads_and_normalises():
    pre = MODELS.build(dict(type='VolumeDataPreprocessor', mean=[50.], std=[25.], pad_size_divisor=32,
                            pad_value=0))
    a = torch.full((3, 40, 50), 100.)
    b = torch.full((3, 30, 70), 0.)
    out = pre(dict(inputs=[a, b], data_samples=[DetDataSample(), DetDataSample()]))
    x = out['inputs']
    assert x.shape == (2, 1, 3, 64, 96)
    assert torch.all(x[0, 0, :, :40, :50] == 2.0) and torch.all(x[1, 0, :, :30, :70] == -2.0)
    assert torch.all(x[0, 0, :, 40:] == 0) and torch.all(x[1, 0, :, :, 70:] == 0)
    for s in out['data_samples']:
        assert s.metainfo['batch_input_shape'] == (64, 96)
    # pad_shape: each image padded to the divisor on its own (MMDetection's convention)
    assert [s.metainfo['pad_shape'] for s in out['data_samples']] == [(64, 64), (32, 96)]


def test_errors():
    with pytest.raises(ValueError, match='one value'):
        MODELS.build(dict(type='VolumeDataPreprocessor', mean=[1., 2., 3.], std=[1., 1., 1.]))
    pre = MODELS.build(dict(type='VolumeDataPreprocessor'))
    with pytest.raises(ValueError, match='different numbers of slices'):
        pre(dict(inputs=[torch.zeros(3, 32, 32), torch.zeros(5, 32, 32)]))
    with pytest.raises(ValueError, match='\\(D, H, W\\)'):
        pre(dict(inputs=[torch.zeros(1, 3, 32, 32)]))
