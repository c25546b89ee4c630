"""Parameters and GFLOPs of a 3D-context backbone and detector (to compare operators as the A3D paper does).

FLOPs are counted by MMEngine's ``FlopAnalyzer`` (one multiply-add = one FLOP, as in the papers' tables).

Example:
    python tools/get_flops.py configs/deeplesion/a3d_7slice.py --shape 7 512 512
    python tools/get_flops.py --backbone DenseNet3D --context-conv A3DConv NoFusionConv --shape 7 512 512
"""
import argparse
import os.path as osp
from functools import partial

import torch
import torch.nn as nn

from mmdet3dctx.ops import bind_input_slice_interval

#: the slice interval (mm) bound to operators that need one while FLOPs are counted (it does not change them)
INPUT_SLICE_INTERVAL = 2.0


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Parameters and GFLOPs of backbone and detector')
    parser.add_argument('config', nargs='?', help='detector config')
    parser.add_argument('--backbone', help='a registered backbone type instead of a config, e.g. DenseNet3D')
    parser.add_argument('--context-conv', nargs='+', default=['A3DConv'],
                        help='operator(s) for --backbone; several give one row each')
    parser.add_argument('--shape', type=int, nargs=3, default=[7, 512, 512], metavar=('D', 'H', 'W'),
                        help='input slices, height and width')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args(argv)


def count(module: nn.Module, inputs) -> float:
    """GFLOPs of ``module(*inputs)``."""
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(module, inputs)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer.total() / 1e9


def params(module: nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def backbone_cost(backbone: nn.Module, shape) -> tuple:
    """Parameters (M) and GFLOPs of ``backbone`` on one ``(1, 1, D, H, W)`` input; operators that need the slice
    interval get :data:`INPUT_SLICE_INTERVAL` bound while the analyzer traces."""
    x = torch.rand(1, 1, *shape)
    backbone.eval()
    with torch.no_grad(), bind_input_slice_interval(backbone, torch.full((1, ), INPUT_SLICE_INTERVAL)):
        return params(backbone), count(backbone, (x, ))


def detector_cost(model: nn.Module, shape) -> tuple:
    from mmdet.structures import DetDataSample
    d, h, w = shape
    model.eval()
    sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                                         batch_input_shape=(h, w), scale_factor=(1., 1.),
                                         input_slice_interval=INPUT_SLICE_INTERVAL))
    x = torch.rand(1, 1, d, h, w)
    wrapper = nn.Module()
    wrapper.model = model
    wrapper.forward = partial(model._forward, batch_data_samples=[sample])
    with torch.no_grad():
        return params(model), count(wrapper, (x, ))


def main(argv=None):
    args = parse_args(argv)
    import mmdet3dctx  # noqa: F401
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    rows = []
    shape = tuple(args.shape)
    if args.backbone:
        for op in args.context_conv:
            bb = MODELS.build(dict(type=args.backbone, num_slices=shape[0], context_conv=dict(type=op)))
            rows.append((f'{args.backbone} {op}', *backbone_cost(bb, shape), None, None))
    elif args.config:
        from mmdet3dctx.apis import read_config
        cfg = read_config(args.config, args.cfg_options)
        model = MODELS.build(cfg.model)
        bp, bf = backbone_cost(model.backbone, shape)
        dp, df = detector_cost(model, shape)
        rows.append((osp.splitext(osp.basename(args.config))[0], bp, bf, dp, df))
    else:
        raise SystemExit('give a CONFIG or --backbone TYPE')
    print(f'input (N, 1, D, H, W) = (1, 1, {shape[0]}, {shape[1]}, {shape[2]})')
    print(f'{"model":40s} {"backbone params (M)":>20s} {"backbone GFLOPs":>16s} {"detector params (M)":>20s} '
          f'{"detector GFLOPs":>16s}')
    for name, bp, bf, dp, df in rows:
        fmt = lambda v: '-' if v is None else f'{v:.2f}'  # noqa: E731
        print(f'{name:40s} {fmt(bp):>20s} {fmt(bf):>16s} {fmt(dp):>20s} {fmt(df):>16s}')
    return rows


if __name__ == '__main__':
    main()
