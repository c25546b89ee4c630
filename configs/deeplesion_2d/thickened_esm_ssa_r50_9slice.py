# Thickened 2D inputs with early-stage multiplexing (ESM) and slice-sensitive attention (SSA): the stem and the
# first ResNet-50 stage run per group of 3 slices, their maps are concatenated and compressed (to half, then to
# the stage's width), SSA makes the fused map key-slice specific, the remaining stages run once, so there are no
# key-group maps past the first stage: both heads see the fused maps.
_base_ = './3dce_r50_9slice.py'

model = dict(rpn_on_key_group=False, backbone=dict(fusion='esm', ssa=True))
