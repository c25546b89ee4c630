default_scope = 'mmdet'
custom_imports = dict(imports=['mmdet3dctx'], allow_failed_imports=False)
# checkpoints written under a temporary name and renamed when complete; unreadable checkpoints named in the error
runner_type = 'SafeRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='deeplesion/avg[0.5-4]',
                    rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'))

custom_hooks = [
    dict(type='NaNGuardHook'),  # stop at the first NaN/Inf loss, before anything is saved
    dict(type='EpochReseedHook'),  # per-epoch randomness: a resumed run repeats the uninterrupted one exactly
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/train.py switches to gloo on CPU
)

# TensorBoard (pip install mmdet3dctx[tensorboard]), in a config: visualizer = dict(vis_backends=[
# dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]); for one run: --cfg-options
# visualizer.vis_backends.0.type=TensorboardVisBackend (docs/get_started.md)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)

log_level = 'INFO'
load_from = None
resume = False
