# Early-stage multiplexing + slice-sensitive attention on the synthetic tree (see 3dce_r18_9slice_synthetic.py);
# both heads see the fused maps. Trains from scratch.
_base_ = './3dce_r18_9slice_synthetic.py'

rpn_on_key_group = False
model = dict(backbone=dict(fusion='esm', ssa=True))
