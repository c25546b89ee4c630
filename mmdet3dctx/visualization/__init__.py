"""Drawing CT samples: the key slice beside its neighbours, with boxes and masks, in the CT window."""
from .browse import browse_dataset, pipeline_value_range
from .ct_sample import draw_ct_sample

__all__ = ['draw_ct_sample', 'browse_dataset', 'pipeline_value_range']
