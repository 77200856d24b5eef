"""Any command as a run (`labconsole watch -- CMD`): output parsers from presets/parsers, the detached watcher
process, and starting it. Torch-free."""

from engine.core.watch.parsers import (
    AUTO,
    AutoParser,
    LineParser,
    Reading,
    load_parser,
    make_parser,
    parser_names,
)
from engine.core.watch.start import check_command, command_args, default_name, start_watch, watch_spec

__all__ = [
    "AUTO",
    "AutoParser",
    "LineParser",
    "Reading",
    "check_command",
    "command_args",
    "default_name",
    "load_parser",
    "make_parser",
    "parser_names",
    "start_watch",
    "watch_spec",
]
