from .fixmatch_cosine_lr import *  # noqa: F401,F403
