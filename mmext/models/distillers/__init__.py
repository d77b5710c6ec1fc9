from .distiller import *  # noqa: F401,F403
from .compatible_distiller import *  # noqa: F401,F403
