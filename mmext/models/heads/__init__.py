from .softtriple_head import *  # noqa: F401,F403
from .hashing_head import *  # noqa: F401,F403
from .adanpc_head import *  # noqa: F401,F403
from .dr_retina_head import *  # noqa: F401,F403
from .label_noise_head import *  # noqa: F401,F403
from .look_head import *  # noqa: F401,F403
from .coke_head import *  # noqa: F401,F403
from .instance_classification_head import *  # noqa: F401,F403
