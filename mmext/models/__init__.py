from . import backbones, classifiers, distillers, heads, layers, losses, necks  # noqa: F401
