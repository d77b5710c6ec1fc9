from . import backbones, classifiers, distillers, heads, layers, losses, necks  # noqa: F401
from . import selfsup  # noqa: F401
