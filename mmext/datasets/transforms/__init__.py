from .domain_shift import *  # noqa: F401,F403
