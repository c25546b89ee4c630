# MMDetection's runtime with the toolkit's plugins, its runner and hooks, and the DeepLesion metric as the
# checkpoint criterion.
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['mmdet3dctx'], allow_failed_imports=False)
# checkpoints written under a temporary name and renamed when complete; unreadable checkpoints named in the error
runner_type = 'SafeRunner'

default_hooks = dict(
    checkpoint=dict(max_keep_ckpts=3, save_best='deeplesion/avg[0.5-4]', rule='greater'))

custom_hooks = [
    dict(type='NaNGuardHook'),  # stop at the first NaN/Inf loss, before anything is saved
    dict(type='EpochReseedHook'),  # per-epoch randomness: a resumed run repeats the uninterrupted one exactly
]

# tools/train.py switches the process group to gloo on CPU.
# TensorBoard (pip install mmdet3dctx[tensorboard]), in a config: visualizer = dict(vis_backends=[
# dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]); for one run: --cfg-options
# visualizer.vis_backends.0.type=TensorboardVisBackend (docs/get_started.md)
