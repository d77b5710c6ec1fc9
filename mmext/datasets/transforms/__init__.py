from .domain_shift import *  # noqa: F401,F403
from .voc_labels import *  # noqa: F401,F403
from .grey_as_color import *  # noqa: F401,F403
