from .distiller import *  # noqa: F401,F403
