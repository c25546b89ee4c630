import json
import math

import pytest

from mmdet3dctx.datasets.deeplesion_coco import key_slices_to_coco, load_coco_key_slices
from mmdet3dctx.datasets.dl_info import load_key_slices
from mmdet3dctx.testing.deeplesion_files import row, write_csv


def _same(a, b):
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b and type(a) is type(b)


def test_json_round_trip_equals_csv(tmp_path):
    csv_path = write_csv(tmp_path / 'DL_info.csv', [
        row(key=10, Bounding_boxes='16.25, 21.5, 46.125, 41.75', Spacing_mm_px_='0.8, 0.8, nan', Patient_age=''),
        row(key=10, Possibly_noisy=1, Bounding_boxes='1, 1, 20, 20', Spacing_mm_px_='0.8, 0.8, nan',
            Measurement_coordinates='6, 10, 16, 10, 11, 6, 11, 14'),
        row(key=12, Train_Val_Test=3, Coarse_lesion_type=6),
    ])
    infos = load_key_slices(str(csv_path), skip_noisy=False)
    for i, info in enumerate(infos):
        info['img_id'] = i + 1
    masks = {(1, 0): dict(segmentation=[[20.0, 25.0, 40.0, 25.0, 30.0, 35.0]], area=100.0, how='grabcut')}
    coco = key_slices_to_coco(infos, masks)
    assert coco['categories'] == [dict(id=1, name='lesion')]
    assert [a['image_id'] for a in coco['annotations']] == [1, 1, 2]
    ann = coco['annotations'][0]
    assert ann['bbox'] == pytest.approx([15.25, 20.5, 29.875, 20.25]) and ann['segmentation'][0][0] == 20.0
    path = tmp_path / 'deeplesion.json'
    path.write_text(json.dumps(coco))
    assert 'NaN' not in path.read_text()  # NaN written as null: standard JSON
    back = load_coco_key_slices(str(path))
    assert len(back) == len(infos)
    for a, b in zip(infos, back):
        for key, value in a.items():
            if key != 'instances':
                assert _same(value, b[key]), key
        for ia, ib in zip(a['instances'], b['instances']):
            for key, value in ia.items():
                assert _same(value, ib[key]), key
    assert back[0]['instances'][0]['mask'] == [[20.0, 25.0, 40.0, 25.0, 30.0, 35.0]]
    assert 'mask' not in back[0]['instances'][1]


def test_bad_json(tmp_path):
    p = tmp_path / 'x.json'
    p.write_text('{"images": []}')
    with pytest.raises(ValueError, match="x.json: no 'annotations'"):
        load_coco_key_slices(str(p))
    p.write_text('{"images": [], "annotations": [{"image_id": 5}]}')
    with pytest.raises(ValueError, match=r'annotations\[0\] refers to unknown image_id 5'):
        load_coco_key_slices(str(p))
    p.write_text('{oops')
    with pytest.raises(ValueError, match='not valid JSON'):
        load_coco_key_slices(str(p))
