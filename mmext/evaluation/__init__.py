from .retrieval import *  # noqa: F401,F403
