# Thickened 2D inputs with early-stage multiplexing (ESM) and slice-sensitive attention (SSA): the stem and the
# first ResNet-50 stage run per group of 3 slices, their maps are concatenated and compressed (to half, then to
# the stage's width), SSA makes the fused map key-slice specific, the remaining stages run once.
_base_ = './3dce_r50_9slice.py'

model = dict(backbone=dict(fusion='esm', ssa=True))
