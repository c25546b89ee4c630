import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_backbone_rows_compare_operators(capsys, load_tool):
    get_flops = load_tool('get_flops')
    rows = get_flops.main(['--backbone', 'DenseNet3D', '--context-conv', 'NoFusionConv', 'A3DConv', 'I3DConv',
                           '--shape', '3', '32', '32'])
    (_, p0, f0, _, _), (_, p1, f1, _, _), (_, p2, f2, _, _) = rows
    assert f0 > 0 and p0 > 0
    # A3D adds D^2 C_in parameters and D C_in H W multiply-adds per convolution: a few percent
    assert 1.0 < f1 / f0 < 1.05 and 1.0 < p1 / p0 < 1.10
    assert 1.5 < f2 / f0 < 3.0 and 1.5 < p2 / p0 < 3.0  # I3D: the 3x3 kernels become 3x3x3
    assert 'DenseNet3D A3DConv' in capsys.readouterr().out


def test_config_backbone_and_detector(capsys, load_tool):
    get_flops = load_tool('get_flops')
    rows = get_flops.main([osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_synthetic.py'), '--shape', '7', '32', '32'])
    (_, bp, bf, dp, df), = rows
    assert 0 < bp < dp and 0 < bf < df
