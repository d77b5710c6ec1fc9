from .reste_hook import *  # noqa: F401,F403
from .lts_hook import *  # noqa: F401,F403
from .lbc_hook import *  # noqa: F401,F403
from .gap_hook import *  # noqa: F401,F403
from .kcd_hook import *  # noqa: F401,F403
from .adanpc_hook import *  # noqa: F401,F403
from .check_invalid_loss_hook import *  # noqa: F401,F403
from .rank_average_loss_hook import *  # noqa: F401,F403
