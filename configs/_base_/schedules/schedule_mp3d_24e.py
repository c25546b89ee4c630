# MP3D schedule: MMDetection's SGD (lr 0.02, warm-up 500 iterations from 0.001x) for 24 epochs with grad clip 35,
# steps at epochs 16 and 22; mixed precision (fp16 on GPU: `--amp`).
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'

train_cfg = dict(max_epochs=24)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=24, by_epoch=True, milestones=[16, 22], gamma=0.1)
]
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
