from .coke import *  # noqa: F401,F403
from .instance_classifier import *  # noqa: F401,F403
