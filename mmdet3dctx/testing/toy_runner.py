"""A toy model and dataset registered for Runner tests (importable from a subprocess)."""
import numpy as np
import torch
import torch.nn as nn
from mmengine.dataset import BaseDataset
from mmengine.model import BaseModel
from mmdet.registry import DATASETS, MODELS


@MODELS.register_module(force=True)
class ToyRegressor(BaseModel):
    """y = w x + b on 4 features, MSE loss; ``nan_at`` makes the loss NaN at that 1-based iteration."""

    def __init__(self, nan_at=None, noise=True):
        super().__init__()
        self.fc = nn.Linear(4, 1)
        self.nan_at, self.noise, self.calls = nan_at, noise, 0

    def forward(self, inputs, targets=None, mode='tensor', **kwargs):
        x = torch.stack(inputs) if isinstance(inputs, (list, tuple)) else inputs
        y = self.fc(x).squeeze(-1)
        if mode == 'loss':
            self.calls += 1
            t = torch.stack(targets) if isinstance(targets, (list, tuple)) else targets
            if self.noise:  # random augmentation of the targets, drawn from the global generator
                t = t + 0.1 * torch.randn_like(t)
            loss = ((y - t) ** 2).mean()
            if self.nan_at is not None and self.calls == self.nan_at:
                loss = loss * float('nan')
            return dict(loss=loss)
        return [dict(pred=v) for v in y]


@DATASETS.register_module(force=True)
class ToyData(BaseDataset):
    def __init__(self, n=32, **kwargs):
        self.n = n
        super().__init__(serialize_data=False, lazy_init=False, **kwargs)

    def load_data_list(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(self.n, 4)).astype(np.float32)
        y = x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32) + 0.3
        return [dict(inputs=torch.from_numpy(x[i]), targets=torch.tensor(y[i])) for i in range(self.n)]


def toy_cfg(work_dir, max_epochs=3, nan_at=None, ckpt_by_epoch=True, interval=1, extra_hooks=()):
    import uuid
    return dict(
        # MMEngine names its global logger/message hub after the start second: runners built in one second
        # would share them, so each gets its own name
        experiment_name=f'toy_{uuid.uuid4().hex[:8]}',
        model=dict(type='ToyRegressor', nan_at=nan_at),
        work_dir=str(work_dir),
        runner_type='SafeRunner',
        train_dataloader=dict(dataset=dict(type='ToyData'), sampler=dict(type='DefaultSampler', shuffle=True),
                              batch_size=4, num_workers=0, collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[2], by_epoch=True),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=interval, by_epoch=ckpt_by_epoch),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='NaNGuardHook'), dict(type='EpochReseedHook'), *extra_hooks],
        randomness=dict(seed=42),
        default_scope='mmdet',
        log_level='WARNING')


class Killed(Exception):
    """Stands for the job being killed."""


from mmengine.hooks import Hook  # noqa: E402
from mmdet.registry import HOOKS  # noqa: E402


@HOOKS.register_module(force=True)
class KillAfterEpoch(Hook):
    """Ends the run after epoch ``n`` has been checkpointed (lowest priority: after CheckpointHook)."""
    priority = 'LOWEST'

    def __init__(self, n=1):
        self.n = n

    def after_train_epoch(self, runner):
        if runner.epoch + 1 >= self.n:
            raise Killed(f'killed after epoch {self.n}')
