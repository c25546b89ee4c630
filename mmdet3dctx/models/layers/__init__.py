from .context_convs import *  # noqa: F401,F403
