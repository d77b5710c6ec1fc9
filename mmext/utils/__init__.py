from .cli import (ConfigError, build_runner, check_config_file, check_data_roots,
                  describe_build_error, drop_schedulers_after_run, exit_on_user_error,
                  load_config, load_script, parse_tool_args, set_work_dir, user_error_message)
from .quiet import silence_known_warnings
from .timing import seconds_per_call

__all__ = [
    'ConfigError', 'build_runner', 'check_config_file', 'check_data_roots', 'describe_build_error',
    'drop_schedulers_after_run', 'exit_on_user_error', 'load_config', 'load_script',
    'parse_tool_args', 'seconds_per_call', 'set_work_dir', 'silence_known_warnings',
    'user_error_message'
]
