"""Entry point of `labconsole`: parses the verb, runs it, and turns user errors into one line and exit code 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine.core.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each verb's module adds its own arguments."""
    from tui.cli import (
        check_cmd,
        compare_cmd,
        control_cmds,
        data_cmd,
        demo_cmd,
        eval_cmd,
        export_cmd,
        history_cmds,
        listing_cmds,
        note_cmd,
        recipes_cmd,
        rerun_cmd,
        run_cmd,
        sweep_cmd,
        verb_help,
        watch_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="labconsole",
        description="Terminal experiment console for vision research. With no verb, opens the console.",
        epilog="examples:\n  labconsole                      # the console\n  labconsole run demo --detach\n"
        "  labconsole ls\n  labconsole VERB --help          # each verb's arguments and examples",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs-dir", help="runs folder (default: $LABCONSOLE_RUNS or ./runs)")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    for module in (
        run_cmd,
        rerun_cmd,
        demo_cmd,
        check_cmd,
        listing_cmds,
        compare_cmd,
        export_cmd,
        control_cmds,
        eval_cmd,
        data_cmd,
        note_cmd,
        history_cmds,
        sweep_cmd,
        recipes_cmd,
        watch_cmd,
    ):
        module.add_parsers(verbs)
    verb_help.document_verbs(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 run failed, 2 bad usage or config)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if not [a for a in args_list if not a.startswith("-")] or (
            args_list[:1] == ["--runs-dir"] and len(args_list) == 2
        ):
            return _open_console(args_list)
        if args_list[:1] == ["data"]:
            # the engine's data maker parses the rest, --help included (argparse would take it for ours)
            from tui.cli.data_cmd import make_data

            return make_data(argparse.Namespace(rest=args_list[1:]))
        parser = build_parser()
        args = parse_with_trailing_overrides(parser, args_list)
        if args.verb is None:
            return _open_console(args_list)
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"labconsole: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # the last net for a disk fault no verb foresaw (a file name too long, a full disk): one line, not a traceback
        print(f"labconsole: error: {disk_fault_line(exc)}", file=sys.stderr)
        return 2


def parse_with_trailing_overrides(
    parser: argparse.ArgumentParser, args_list: list[str]
) -> argparse.Namespace:
    """Parse the command line; key=value overrides after an option (`eval RUN --checkpoint 2 eval.x=1`) join the
    verb's overrides (argparse alone takes a verb's positionals in one go, before the options)."""
    args, extra = parser.parse_known_args(args_list)
    if extra and (
        not isinstance(getattr(args, "overrides", None), list) or any(e.startswith("-") for e in extra)
    ):
        return parser.parse_args(args_list)  # argparse's own message and exit code 2
    if extra:
        args.overrides = [*args.overrides, *extra]
    return args


_MAX_PATH_SHOWN = 120


def disk_fault_line(exc: OSError) -> str:
    """An unforeseen OSError as one line: the file it concerns (cut short) and the cause in words."""
    from pathlib import Path

    from engine.core.protocol.rundir import disk_fault_cause

    if exc.filename is None:
        return f"cannot read or write a file: {exc.strerror or exc}"
    name = str(exc.filename)
    shown = name if len(name) <= _MAX_PATH_SHOWN else f"{name[:_MAX_PATH_SHOWN]}… ({len(name):,} characters)"
    return f"cannot read or write {shown}: {disk_fault_cause(Path(name), exc)}"


def _open_console(args_list: list[str]) -> int:
    if args_list[:1] == ["--runs-dir"] and len(args_list) == 2:
        runs_dir: str | None = args_list[1]  # the verbs' parser (every verb module imported) is not needed
    elif args_list:
        runs_dir = build_parser().parse_args(args_list).runs_dir  # `labconsole --help` lists the verbs
    else:
        runs_dir = None
    from engine.core.protocol import resolve_runs_dir
    from tui.app import run_console

    return int(run_console(resolve_runs_dir(runs_dir)) or 0)


if __name__ == "__main__":
    sys.exit(main())
