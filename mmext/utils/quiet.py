"""Silence the third-party warnings every run printed, at the tools' entry points only.

Each is matched by its own message, so any other warning (ours included) still shows.
"""
import logging
import re
import warnings
from typing import Optional

# (message start, category) of Python warnings from the pinned stack
THIRD_PARTY_WARNINGS = [
    # setuptools, when mmengine looks up an installed package (mmpretrain::, mmdet:: configs)
    (r'pkg_resources is deprecated as an API', UserWarning),
    (r'Deprecated call to `pkg_resources\.declare_namespace', DeprecationWarning),
    # torch.from_numpy on mmpretrain's read-only MNIST buffers (they are copied later)
    (r'The given NumPy array is not writable', UserWarning),
]
# log records of mmengine's own deprecation notices, printed through its logger
THIRD_PARTY_LOG_MESSAGES = re.compile(
    r'"(FileClient|file_client_args)" will be deprecated in future'
    r'|"HardDiskBackend" is the alias of "LocalBackend"')


class _DropKnownMessages(logging.Filter):

    def filter(self, record: logging.LogRecord) -> bool:
        return not THIRD_PARTY_LOG_MESSAGES.match(str(record.msg))


def silence_known_warnings(logger: Optional[logging.Logger] = None) -> None:
    """Ignore the warnings of :data:`THIRD_PARTY_WARNINGS`; with ``logger`` (a runner's
    MMLogger) also drop the log records matching :data:`THIRD_PARTY_LOG_MESSAGES`."""
    for message, category in THIRD_PARTY_WARNINGS:
        warnings.filterwarnings('ignore', message=message, category=category)
    if logger is not None and not any(isinstance(f, _DropKnownMessages) for f in logger.filters):
        logger.addFilter(_DropKnownMessages())
