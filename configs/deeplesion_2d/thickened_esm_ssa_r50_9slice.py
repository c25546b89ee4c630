# Thickened 2D inputs with early-stage multiplexing (ESM) and slice-sensitive attention (SSA) on ImageNet ResNet-50:
# the stem and first stage run per group of 3 slices and are fused; SSA links the key group's pre-fusion features to
# the outputs of the later stages. No key-group maps past the first stage: both heads see the fused maps.
_base_ = './3dce_r50_9slice.py'

rpn_on_key_group = False
model = dict(backbone=dict(fusion='esm', ssa=True))
