from .softtriple import *  # noqa: F401,F403
from .dr_loss import *  # noqa: F401,F403
from .hyp2 import *  # noqa: F401,F403
from .label_noise import *  # noqa: F401,F403
from .nkd import *  # noqa: F401,F403
from .vitkd import *  # noqa: F401,F403
from .mgd import *  # noqa: F401,F403
from .look import *  # noqa: F401,F403
