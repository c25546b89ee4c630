"""Record which samples each rank trains on, in order (to check sharding and resumed data order)."""
import os.path as osp

from mmengine.hooks import Hook
from mmdet.registry import HOOKS


@HOOKS.register_module()
class DataOrderHook(Hook):
    """Append ``epoch iteration img_id`` for every training sample to ``<work_dir>/data_order_rank<r>.txt``.

    With it one can check that distributed ranks see disjoint shards and that a resumed run sees the data in the
    order the uninterrupted run did. Costs one small file write per iteration.

    Args:
        filename (str): name pattern under the work dir; ``{rank}`` is filled in. Default:
            'data_order_rank{rank}.txt'.
    """
    priority = 'LOW'

    def __init__(self, filename: str = 'data_order_rank{rank}.txt') -> None:
        self.filename = filename

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        samples = (data_batch or {}).get('data_samples') or []
        ids = [s.metainfo.get('img_id', s.metainfo.get('img_path')) if hasattr(s, 'metainfo') else None
               for s in samples]
        with open(osp.join(runner.work_dir, self.filename.format(rank=runner.rank)), 'a') as f:
            for i in ids:
                f.write(f'{runner.epoch} {runner.iter} {i}\n')
