from .context_convs import *  # noqa: F401,F403
from .context_convs import __all__ as _context_convs
from .slice_sensitive_attention import SliceSensitiveAttention

__all__ = list(_context_convs) + ['SliceSensitiveAttention']
