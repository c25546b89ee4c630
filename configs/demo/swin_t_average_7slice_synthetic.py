# As swin_t_center_7slice_synthetic.py with the patch embedding divided over the 7 slices ('average'). The
# inflation applies when a 2D checkpoint loads (model.backbone.init_cfg=dict(type='Pretrained2D', checkpoint=...));
# trained from scratch, as here by default, it is the centre demo's model and run.
_base_ = './swin_t_center_7slice_synthetic.py'

model = dict(backbone=dict(inflate='average'))
