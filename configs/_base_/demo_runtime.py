# The default runtime for the few-minute demos: log every 10 iterations, one checkpoint at the end (a demo of other
# than 12 epochs sets `checkpoint.interval` to its length), no drawing, seed 0.
_base_ = './default_runtime.py'

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=12, save_best=None, max_keep_ckpts=1),
    visualization=dict(draw=False))
log_processor = dict(window_size=10)
randomness = dict(seed=0)
