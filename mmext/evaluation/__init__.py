from .retrieval import *  # noqa: F401,F403
from .feature_probe import *  # noqa: F401,F403
