# Early-stage multiplexing + slice-sensitive attention on the synthetic tree (see 3dce_r18_9slice_synthetic.py).
_base_ = './3dce_r18_9slice_synthetic.py'

model = dict(backbone=dict(fusion='esm', ssa=True))
