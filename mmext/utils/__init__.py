from .cli import (ConfigError, build_runner, check_config_file, check_data_roots,
                  describe_build_error, load_config)

__all__ = [
    'ConfigError', 'build_runner', 'check_config_file', 'check_data_roots', 'describe_build_error',
    'load_config'
]
