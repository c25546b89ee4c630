from .context_neck import ContextNeck
from .slice_reduction import SliceReduction
from .top_down_fusion import TopDownFusion

__all__ = ['SliceReduction', 'TopDownFusion', 'ContextNeck']
