from .smmix import *  # noqa: F401,F403
from .supervit_classifier import *  # noqa: F401,F403
from .dash import *  # noqa: F401,F403
from .cdtrans import *  # noqa: F401,F403
from .coins import *  # noqa: F401,F403
