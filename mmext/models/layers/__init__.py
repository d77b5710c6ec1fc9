from .msda import *  # noqa: F401,F403
from .elsa import *  # noqa: F401,F403
from .knn_attention import *  # noqa: F401,F403
from .scaled_relu_stem import *  # noqa: F401,F403
from .compression_utils import *  # noqa: F401,F403
from .reste import *  # noqa: F401,F403
from .lts import *  # noqa: F401,F403
from .lbc import *  # noqa: F401,F403
