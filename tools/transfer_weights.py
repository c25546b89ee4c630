"""Initialise a detector of another slice count (and/or class set) from a trained one: D' -> D transfer.

Tensors of equal shape are copied (backbone, neck, RPN, shared RoI layers); slice-count-dependent tensors are
mapped (D x 1 x 1 reduction kernels and GTM group weights by centre or average inflation over depth, A3D
mixing matrices embedded at the centre of an identity or cropped from the centre); class-specific layers of
another shape (80 COCO classes -> 1 lesion class) keep the target model's fresh initialisation. Prints the
table and writes an MMEngine checkpoint to use as ``load_from`` of the target config.

Example:
    python tools/transfer_weights.py work_dirs/a3d_coco_pseudo3d_synthetic/epoch_6.pth \\
        --config configs/demo/a3d_7slice_synthetic.py --out checkpoints/a3d_7slice_from_coco.pth
"""
import argparse
import os
import os.path as osp
import sys


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='source checkpoint (an MMEngine checkpoint or a plain state dict)')
    parser.add_argument('--config', required=True, help='config of the target detector')
    parser.add_argument('--out', required=True, help='output checkpoint')
    parser.add_argument('--inflate', choices=['center', 'average'], default='center',
                        help='how depth kernels change length (default: center)')
    parser.add_argument('--force', action='store_true', help='overwrite --out if it exists')
    parser.add_argument('--seed', type=int, default=0, help='seed of the re-initialised tensors (default: 0)')
    parser.add_argument('--verbose', action='store_true', help='list every copied tensor too')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override target config settings')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.src):
        print(f'error: source checkpoint not found: {args.src}', file=sys.stderr)
        return 1
    if osp.exists(args.out) and not args.force:
        print(f'error: {args.out} exists; pass --force to overwrite it', file=sys.stderr)
        return 1
    if osp.abspath(args.out) == osp.abspath(args.src):
        print('error: --out must differ from the source checkpoint', file=sys.stderr)
        return 1
    import torch
    from mmengine.runner import set_random_seed

    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    import mmdet3dctx  # noqa: F401
    from mmdet3dctx.apis import read_config
    from mmdet3dctx.pretraining.slice_transfer import format_transfer_table, transfer_state_dict
    from mmdet3dctx.utils import read_state_dict

    register_all_modules(init_default_scope=True)
    from mmengine.logging import MMLogger
    MMLogger.get_instance('transfer_weights', log_level='WARNING')  # no per-parameter init log
    cfg = read_config(args.config, args.cfg_options)
    try:
        src = read_state_dict(args.src)
    except Exception as e:  # noqa: BLE001 (any unreadable file: say which)
        print(f'error: cannot read {args.src}: {e}', file=sys.stderr)
        return 1
    set_random_seed(args.seed)
    init_cfg = cfg.model.backbone.get('init_cfg')
    if isinstance(init_cfg, dict) and init_cfg.get('type') in ('Pretrained', 'Pretrained2D'):
        cfg.model.backbone.pop('init_cfg')  # every backbone tensor comes from the source: no 2D weights to fetch
    model = MODELS.build(cfg.model)
    model.init_weights()
    try:
        state, rows = transfer_state_dict(src, model, inflate=args.inflate)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'{args.src} -> {args.config} ({args.inflate} inflation)')
    print(format_transfer_table(rows, copied_detail=args.verbose))
    if not any(r.action in ('copied', 'mapped') for r in rows):
        print('error: no tensor of the source matches the target model', file=sys.stderr)
        return 1
    model.load_state_dict(state, strict=True)  # every key and shape checked once more
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    meta = dict(transferred_from=osp.abspath(args.src), config=osp.abspath(args.config), inflate=args.inflate,
                seed=args.seed, **{f'num_{r}': sum(1 for x in rows if x.action == r)
                                   for r in ('copied', 'mapped', 're-initialised')})
    meta = {k.replace('-', '_'): v for k, v in meta.items()}
    tmp = args.out + '.tmp'
    torch.save(dict(meta=meta, state_dict=state), tmp)
    os.replace(tmp, args.out)
    print(f'wrote {args.out}; set load_from={args.out!r} in the target config')
    return 0


if __name__ == '__main__':
    sys.exit(main())
