"""The loading transform of inference: slices of an in-memory CT volume instead of DeepLesion PNGs."""
from typing import Optional, Tuple

from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS

from .volume_slices import volume_input_spacing, volume_slice_input


@TRANSFORMS.register_module()
class LoadCTVolumeSlices(BaseTransform):
    """Build the ``(H, W, num_slices)`` input of one key slice of a :class:`~mmdet3dctx.io.CTVolume`.

    The counterpart of ``LoadDeepLesionSlices`` with the same arguments, the same interpolation, windowing and
    input spacing, the neighbours taken at their positions in mm within the key slice's run
    (:func:`volume_slice_input`), so a model sees at inference what it saw in training.
    :func:`inference_pipeline` swaps it into a config's test pipeline.

    Required Keys: ``volume`` (CTVolume), ``key_index`` (slice index into the volume).

    Added Keys: ``img``, ``img_shape``, ``ori_shape``, ``slice_interval`` (the volume's), ``input_slice_interval``
    (mm between the stacked slices), ``key_slice``, ``img_path`` (``<source>#<key_index>``).

    Args:
        num_slices (int): odd number of input slices. Default: 7.
        input_slice_interval (float, optional): mm between the stacked slices; None stacks adjacent slices.
        window (tuple[float]): HU window. out_range (tuple[float]): values it maps to.
    """

    def __init__(self, num_slices: int = 7, input_slice_interval: Optional[float] = 2.0,
                 window: Tuple[float, float] = (-1024, 2050), out_range: Tuple[float, float] = (-50, 205),
                 **unused) -> None:
        self.num_slices = num_slices
        self.input_slice_interval = input_slice_interval
        self.window = tuple(window)
        self.out_range = tuple(out_range)

    def transform(self, results: dict) -> dict:
        volume, key = results['volume'], int(results['key_index'])
        img = volume_slice_input(volume, key, self.num_slices, self.input_slice_interval, self.window,
                                 self.out_range)
        results.pop('volume')
        results['img'] = img
        results['img_shape'] = results['ori_shape'] = img.shape[:2]
        results['slice_interval'] = volume.slice_interval
        results['input_slice_interval'] = volume_input_spacing(volume, self.input_slice_interval)
        results['key_slice'] = key
        source = volume.metadata.get('directory') or volume.metadata.get('path') or 'volume'
        results['img_path'] = f'{source}#{key}'
        results.setdefault('instances', [])
        results.setdefault('file_name', f'slice_{key:04d}')
        results.setdefault('img_id', key)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_slices={self.num_slices}, '
                f'input_slice_interval={self.input_slice_interval}, '
                f'window={self.window}, out_range={self.out_range})')


def inference_pipeline(pipeline_cfg: list) -> list:
    """A config's test pipeline for volumes: ``LoadDeepLesionSlices`` (or a volume dataset's ``LoadVolumeSlices``)
    becomes :class:`LoadCTVolumeSlices` with the same slice count, interval and window; annotation loading is
    dropped."""
    out, found = [], False
    for step in pipeline_cfg:
        step = dict(step)
        if step['type'] in ('LoadDeepLesionSlices', 'LoadVolumeSlices', 'LoadCTVolumeSlices'):
            keep = {k: step[k] for k in ('num_slices', 'input_slice_interval', 'window', 'out_range') if k in step}
            out.append(dict(type='LoadCTVolumeSlices', **keep))
            found = True
        elif step['type'] != 'LoadAnnotations':
            out.append(step)
    if not found:
        raise ValueError('the test pipeline has no LoadDeepLesionSlices or LoadVolumeSlices step to take the slice '
                         f'count, interval and window from: {[s["type"] for s in pipeline_cfg]}')
    return out


