"""Browse a dataset as the model sees it: each sample after the config's train pipeline, its key slice beside its
neighbours in the CT window, with the ground-truth boxes and masks (MMDetection's browse_dataset for CT).

Example:
    python tools/browse_dataset.py configs/demo/a3d_7slice_synthetic.py --output-dir browse/ --not-show
    python tools/browse_dataset.py configs/deeplesion/a3d_7slice.py --cfg-options data_root=/data/DeepLesion
"""
import argparse


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Browse a dataset through its pipeline')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--output-dir', help='save one PNG per sample in this folder')
    parser.add_argument('--not-show', action='store_true', help='do not open a window per sample')
    parser.add_argument('--show-interval', type=float, default=2, help='seconds each window stays open')
    parser.add_argument('--num-samples', type=int, help='stop after this many samples (default: all)')
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='train',
                        help="whose dataloader's dataset and pipeline to browse")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. data_root=/data/DeepLesion')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.not_show and not args.output_dir:
        raise SystemExit('error: with --not-show, give --output-dir (or nothing would be seen)')
    from mmdet3dctx.apis import ensure_data, load_config
    from mmdet3dctx.visualization import browse_dataset
    cfg = load_config(args.config, args.cfg_options)
    ensure_data(cfg)
    records = browse_dataset(cfg, output_dir=args.output_dir, show=not args.not_show,
                             show_interval=args.show_interval, num_samples=args.num_samples, split=args.split)
    print(f'\n{len(records)} sample(s)' + (f' drawn to {args.output_dir}' if args.output_dir else ''))
    return records


if __name__ == '__main__':
    main()
