from .dilateformer import *  # noqa: F401,F403
from .pslt import *  # noqa: F401,F403
from .elsa_swin import *  # noqa: F401,F403
from .kvt import *  # noqa: F401,F403
from .stvit import *  # noqa: F401,F403
from .supervit import *  # noqa: F401,F403
from .genet import *  # noqa: F401,F403
from .zennet import *  # noqa: F401,F403
