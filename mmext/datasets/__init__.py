from .kcd_sampler import *  # noqa: F401,F403
from . import transforms  # noqa: F401
from .label_noise import *  # noqa: F401,F403
from .semi_supervised import *  # noqa: F401,F403
from .cdtrans_pair_dataset import *  # noqa: F401,F403
from .relabeled_dataset import *  # noqa: F401,F403
