"""CTDetVisualizationHook: registered for any config, draws on the key slice in the HU window."""
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip('mmdet')
from mmdet.registry import HOOKS  # noqa: E402
from mmengine.visualization import Visualizer  # noqa: E402

from mmdet3dctx.testing.deeplesion_files import write_slice  # noqa: E402


@pytest.fixture(autouse=True)
def _visualizer():
    """The hook looks the current visualizer up when built (the Runner makes one)."""
    Visualizer.get_instance(f'ct_vis_test_{id(object())}')


class _Visualizer:

    def __init__(self):
        self.calls = []

    def add_datasample(self, name, image, **kwargs):
        self.calls.append((name, image, kwargs))


def test_windowed_slice_drawn_in_val_and_test(tmp_path):
    hu = np.array([[-1000, -175, 50, 275, 1000]], np.int32).repeat(4, axis=0)
    path = write_slice(str(tmp_path), '000001_01_01', 10, hu)
    hook = HOOKS.build(dict(type='CTDetVisualizationHook', draw=True, interval=1, test_out_dir='vis'))
    hook._visualizer = _Visualizer()
    image = hook.ct_image(path)
    assert image.shape == (4, 5, 3) and image.dtype == np.uint8
    # -175..275 HU onto 0..255, clipped outside: 50 HU is half way (127.5, truncated)
    assert image[0, :, 0].tolist() == [0, 0, 127, 255, 255] and (image[..., 0] == image[..., 2]).all()

    sample = SimpleNamespace(img_path=path, metainfo=dict(file_name='000001_01_01_010.png'))
    runner = SimpleNamespace(iter=0, work_dir=str(tmp_path / 'work'), timestamp='t0')
    hook.after_val_iter(runner, 0, {}, [sample])
    hook.after_test_iter(runner, 0, {}, [sample, sample])
    names = [c[0] for c in hook._visualizer.calls]
    assert names == ['val_img', 'test_img', 'test_img']
    assert all(np.array_equal(c[1], image) for c in hook._visualizer.calls)
    assert hook._visualizer.calls[-1][2]['out_file'] == str(tmp_path / 'work' / 't0' / 'vis' / '000001_01_01_010.png')


def test_window_is_an_argument(tmp_path):
    path = write_slice(str(tmp_path), '000001_01_01', 10, np.full((2, 2), -600, np.int32))
    hook = HOOKS.build(dict(type='CTDetVisualizationHook', window=(-1350, 150)))
    assert hook.ct_image(path)[0, 0, 0] == 127  # (-600 + 1350) / 1500 * 255 = 127.5
