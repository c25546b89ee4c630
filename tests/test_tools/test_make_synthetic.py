import os.path as osp

import pytest

from mmdet3dctx.datasets.dl_info import load_key_slices
from mmdet3dctx.testing import make_synthetic_deeplesion


@pytest.fixture
def tool(load_tool):
    return load_tool('make_synthetic_deeplesion')


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def test_cli_matches_the_function_and_refuses_to_overwrite(tmp_path, capsys, tool):
    out = str(tmp_path / 'cli')
    assert tool.main(['--out', out, '--num-patients', '3', '--seed', '7', '--image-size', '64']) == 0
    printed = capsys.readouterr().out
    n = len(load_key_slices(osp.join(out, 'DL_info.csv'), skip_noisy=False))
    assert f'3 patients, {n} key slices' in printed
    ref = make_synthetic_deeplesion(str(tmp_path / 'fn'), num_patients=3, seed=7, image_size=64)
    assert _read(osp.join(out, 'DL_info.csv')) == _read(osp.join(ref, 'DL_info.csv'))
    info = load_key_slices(osp.join(out, 'DL_info.csv'))[0]
    assert _read(osp.join(out, info['img_path'])) == _read(osp.join(ref, info['img_path']))

    before = _read(osp.join(out, 'DL_info.csv'))
    assert tool.main(['--out', out, '--num-patients', '4', '--image-size', '64']) == 1
    assert 'exists' in capsys.readouterr().err
    assert _read(osp.join(out, 'DL_info.csv')) == before
    assert tool.main(['--out', out, '--num-patients', '4', '--image-size', '64', '--force']) == 0
    assert _read(osp.join(out, 'DL_info.csv')) != before


def test_cli_noise_and_contrast_flags(tmp_path, tool):
    out = str(tmp_path / 'cli')
    argv = ['--out', out, '--num-patients', '2', '--seed', '1', '--image-size', '64', '--noise-hu', '4', '16',
            '--noise-ref-mm', '5', '--noise-blur-px', '0.8', '--contrast-scale', '0.6']
    assert tool.main(argv) == 0
    ref = make_synthetic_deeplesion(str(tmp_path / 'fn'), num_patients=2, seed=1, image_size=64, noise_hu=(4.0, 16.0),
                                    noise_ref_mm=5.0, noise_blur_px=0.8, contrast_scale=0.6)
    plain = make_synthetic_deeplesion(str(tmp_path / 'plain'), num_patients=2, seed=1, image_size=64)
    info = load_key_slices(osp.join(out, 'DL_info.csv'))[0]
    assert _read(osp.join(out, info['img_path'])) == _read(osp.join(ref, info['img_path']))
    assert _read(osp.join(out, info['img_path'])) != _read(osp.join(plain, info['img_path']))
    # The annotations do not depend on noise or contrast.
    assert _read(osp.join(out, 'DL_info.csv')) == _read(osp.join(plain, 'DL_info.csv'))
    assert tool.main(['--out', str(tmp_path / 'x'), '--noise-hu', '1', '2', '3']) == 1
    assert tool.main(['--out', str(tmp_path / 'y'), '--noise-hu', '16', '4']) == 1


def test_cli_rejects_bad_size(tmp_path, capsys, tool):
    assert tool.main(['--out', str(tmp_path), '--image-size', '16']) == 1
    assert 'image_size' in capsys.readouterr().err
