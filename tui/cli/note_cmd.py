"""`labconsole note RUN "text"`: add a note to a run (kept in run.json "notes", shown by `show` and the console)."""

from __future__ import annotations

import argparse

from rich.markup import escape

from tui.cli.common import RUNS_DIR_PARENT, console_for, lookup
from tui.data.run_notes import add_note


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "note",
        parents=[RUNS_DIR_PARENT],
        help="add a note to a run",
        description="Add a note (your text and the time) to a run, live or finished: kept in its run.json "
        '"notes", listed by labconsole show, the latest shown under the runs table of the console.',
        # the examples sit here, with the verb, rather than in verb_help's table (document_verbs keeps them)
        epilog="examples:\n"
        '  labconsole note 20251009-085320-demo "lr too high: loss spikes after 3k steps"\n'
        "  labconsole note demo 'baseline for the GeM ablation'",
    )
    parser.add_argument("run", metavar="RUN", help="run id, unique id prefix, or unique name")
    parser.add_argument("text", metavar="TEXT", nargs="+", help="the note (several words are joined)")
    parser.set_defaults(handler=note_run)


def note_run(args: argparse.Namespace) -> int:
    paths = lookup(args, args.run)
    add_note(paths.root, " ".join(args.text))
    console_for().print(f"note added to {escape(paths.run_id)}")
    return 0
