"""Every verb's `--help`: a description, its arguments, and examples to copy.

The examples live here, in one table, so that `labconsole VERB --help` of every verb ends the same way; a verb
whose module gives no `description` gets its one-line help as one.
"""

from __future__ import annotations

import argparse

EXAMPLES: dict[str, tuple[str, ...]] = {
    "run": (
        "labconsole run demo optim.lr=1e-4 train.max_steps=2000",
        "labconsole run my_config.yaml --name lr-sweep-3 --detach",
        "labconsole run vpr_model_selection@real data.root=/data/gsv_cities",
    ),
    "resume": ("labconsole resume 20251009-085320-demo",),
    "rerun": (
        "labconsole rerun base",
        "labconsole rerun 20251009-085320-demo --name base-seed-check --detach",
    ),
    "demo": ("labconsole demo", "labconsole demo --headless train.max_steps=200"),
    "check": (
        "labconsole check demo optim.lr=3e-4",
        "labconsole check demo > resolved.yaml        # the YAML alone; the tables go to stderr",
        "labconsole check my_config.yaml --no-model   # the data only, no torch",
    ),
    "ls": ("labconsole ls", "labconsole ls --json | jq '.[].id'"),
    "show": ("labconsole show demo", "labconsole show 20251009 --json"),
    "compare": (
        "labconsole compare base cand --baseline base",
        "labconsole compare base cand --format markdown --use best",
    ),
    "export": ("labconsole export base cand --to results/", "labconsole export base --figures --to results/"),
    "eval": (
        "labconsole eval base --checkpoint 500 eval.image_size=[320,320]",
        "labconsole eval base eval.positive_radius_m=10 'eval.test_sets=[{name: tokyo, path: /data/tokyo}]'",
    ),
    "set": ("labconsole set demo optim.lr=1e-4", "labconsole set demo freeze.backbone=on --no-wait"),
    "stop": ("labconsole stop demo",),
    "pause": ("labconsole pause demo",),
    "unpause": ("labconsole unpause demo",),
    "archive": ("labconsole archive old-sweep-1 old-sweep-2", "labconsole archive old-sweep-1 --undo"),
    "delete": ("labconsole delete smoke-test", "labconsole delete 20251009 --yes"),
    "trash": (
        "labconsole trash",
        "labconsole trash --restore 20251009-085320-demo",
        "labconsole trash --empty",
    ),
    "data": (
        "labconsole data synth-vpr",
        "labconsole data synth-seg ~/data/synth-seg",
        "labconsole data synth-det ~/data/synth-det",
    ),
    "watch": (
        "labconsole watch -- python train.py --lr 0.01",
        "labconsole watch --name yolox-l-ft --parser yolox -- python tools/train.py -f exps/yolox_l.py -d 1 -b 8",
        "labconsole watch --follow --stop-grace 30 -- ./train.sh",
    ),
}


def document_verbs(verbs: argparse._SubParsersAction) -> None:
    """Give every verb's parser a description (its help line when it has none) and an epilog of examples,
    laid out as written (RawDescriptionHelpFormatter keeps the examples one per line)."""
    one_liners = {action.dest: action.help or "" for action in verbs._choices_actions}
    for name, parser in verbs.choices.items():
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        if not parser.description:
            text = one_liners.get(name, "")
            parser.description = text[:1].upper() + text[1:] + ("." if text else "")
        examples = EXAMPLES.get(name)
        if examples and not parser.epilog:
            parser.epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
