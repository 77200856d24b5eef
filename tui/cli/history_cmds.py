"""`labconsole archive`, `delete` and `trash`: keeping a long history tidy without losing runs by mistake."""

from __future__ import annotations

import argparse
import sys

from engine.core.errors import UserError
from engine.core.protocol.trash import (
    empty_trash,
    list_trash,
    move_to_trash,
    restore_from_trash,
    set_archived,
)
from tui.cli.common import RUNS_DIR_PARENT, console_for, fmt_time, lookup, runs_dir_of
from tui.cli.plain_table import Column, table_lines


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    archive = verbs.add_parser(
        "archive",
        parents=[RUNS_DIR_PARENT],
        help="hide runs from ls and the console (they stay where they are)",
        description="Archive runs: `ls` and the console's runs list leave them out (ls --all and the filter "
        "is:archived show them); every command still reaches them. --undo brings them back.",
    )
    archive.add_argument(
        "runs", nargs="+", metavar="RUN", help="run ids, unique id prefixes, or unique names"
    )
    archive.add_argument("--undo", action="store_true", help="show the runs in listings again")
    archive.set_defaults(handler=archive_runs)
    delete = verbs.add_parser(
        "delete",
        parents=[RUNS_DIR_PARENT],
        help="move runs to the trash (labconsole trash restores or empties it)",
        description="Move finished runs' folders to <runs>/.trash/. A live run is refused (stop it first). "
        "Asks first on a terminal; --yes for scripts.",
    )
    delete.add_argument("runs", nargs="+", metavar="RUN", help="run ids, unique id prefixes, or unique names")
    delete.add_argument("--yes", action="store_true", help="do not ask")
    delete.set_defaults(handler=delete_runs)
    trash = verbs.add_parser(
        "trash",
        parents=[RUNS_DIR_PARENT],
        help="list deleted runs; restore one or empty the trash",
        description="List the runs in <runs>/.trash/ (newest deletion first), restore one to the runs folder, "
        "or delete them all for good (asks first on a terminal; --yes for scripts).",
    )
    trash.add_argument("--restore", metavar="RUN_ID", help="move this run back into the runs folder")
    trash.add_argument("--empty", action="store_true", help="delete every trashed run for good")
    trash.add_argument("--yes", action="store_true", help="do not ask before emptying")
    trash.set_defaults(handler=trash_verb)


def archive_runs(args: argparse.Namespace) -> int:
    targets = [lookup(args, ref) for ref in args.runs]  # every reference checked before any change
    for paths in targets:
        set_archived(paths, not args.undo)
        print(f"{'unarchived' if args.undo else 'archived'} {paths.run_id}")
    return 0


def delete_runs(args: argparse.Namespace) -> int:
    targets = [lookup(args, ref) for ref in args.runs]
    names = ", ".join(p.run_id for p in targets)
    if not args.yes and not _confirm(f"move {len(targets)} run(s) to the trash: {names}?"):
        print("nothing deleted", file=sys.stderr)
        return 1
    for paths in targets:
        target = move_to_trash(paths)
        print(f"deleted {paths.run_id} (in {target}; labconsole trash --restore {target.name})")
    return 0


def trash_verb(args: argparse.Namespace) -> int:
    runs_dir = runs_dir_of(args)
    if args.restore and args.empty:
        raise UserError("--restore and --empty go separately")
    if args.restore:
        target = restore_from_trash(runs_dir, args.restore)
        print(f"restored {target.name} into {runs_dir}")
        return 0
    trashed = list_trash(runs_dir)
    if args.empty:
        if not trashed:
            print("the trash is empty")
            return 0
        size = sum(t.size_bytes for t in trashed)
        if not args.yes and not _confirm(f"delete {len(trashed)} run(s) ({_size(size)}) for good?"):
            print("nothing deleted", file=sys.stderr)
            return 1
        count, freed = empty_trash(runs_dir)
        print(f"deleted {count} run(s) for good, {_size(freed)} freed")
        return 0
    if not trashed:
        print("the trash is empty")
        return 0
    columns = (Column("ID"), Column("NAME", shrinks=True), Column("DELETED"), Column("SIZE", right=True))
    rows = [[t.run_id, t.name, fmt_time(t.deleted), _size(t.size_bytes)] for t in trashed]
    sys.stdout.write("\n".join(table_lines(columns, rows, console_for())) + "\n")
    return 0


def _confirm(question: str) -> bool:
    """y/N on a terminal; without one, no (scripts pass --yes)."""
    if not sys.stdin.isatty():
        raise UserError(f"{question.rstrip('?')}: not asked without a terminal; pass --yes to confirm")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _size(size_bytes: int) -> str:
    """1.5 MB, 812 KB, 40 B."""
    size = float(size_bytes)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
