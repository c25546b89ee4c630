# A3D / AlignShift schedule: MMDetection's SGD (lr 0.02, momentum 0.9, wd 1e-4) for 20 epochs with grad clip 35,
# linear warm-up 500 iterations from 0.01x, steps at epochs 9 and 16, evaluation every epoch.
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'

train_cfg = dict(max_epochs=20)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=20, by_epoch=True, milestones=[9, 16], gamma=0.1)
]
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(base_batch_size=8)
