"""What `labconsole check` and the launchers ask the engine: is the data there in a known layout, and what the
model is (parameter table per group and freeze phase, output size). Run as `python -m engine.check`.

Request: the resolved config as JSON on stdin. `--data-only` checks the data layouts alone (torch-free, fast:
what a launch checks before it creates a run folder); otherwise the answer is the model summary.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from engine.core.engine_calls import answer


def check(cfg: dict[str, Any], args: list[str]) -> dict[str, Any]:
    """{} after the data check (`--data-only`), else the model summary (which indexes the data too)."""
    from engine.data.formats import preflight

    data = cfg["data"]
    made_on_first_use = data.get("synthetic") and not (data["root"] and Path(data["root"]).exists())
    if not made_on_first_use:
        preflight(cfg)
    if "--data-only" in args:
        return {}
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download weights only to count them
    from engine.tasks import check_summary

    return check_summary.model_summary(cfg)


if __name__ == "__main__":
    sys.exit(answer(check))
