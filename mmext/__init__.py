"""mmext: vision research methods as OpenMMLab 2.x components.

``import mmext`` (or ``custom_imports=dict(imports=['mmext'])`` in a config) registers every part
under the ``mmext`` scope; configs name them ``type='mmext.Name'``.
"""
from .version import __version__
from . import datasets, engine, evaluation, models  # noqa: F401,E402  (registers all parts)

__all__ = ['__version__']
