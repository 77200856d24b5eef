"""Asking the engine side for what only it can answer, in a subprocess: the console and the core never import it.

An engine entry point (`python -m engine.<module>`) reads its request as JSON on stdin and prints its answer
as JSON on stdout. It exits 2 for a user error (one line on stderr), and 3 when a package of the engine
extra is missing (one line saying which, and how to install it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.core.errors import UserError

#: Exit code of an engine entry point whose extra is not installed (`pip install 'labconsole[engine]'`).
MISSING_EXTRA = 3
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def call_engine(module: str, request: Any = None, args: Sequence[str] = (), timeout: float = 900) -> Any:
    """Run `python -m <module> [args]` with `request` as JSON on stdin; its JSON answer.

    Raises:
        UserError: the engine's one-line message for a user error or a missing extra (exit 2 or 3), or what
            went wrong otherwise (its last line of output), so no traceback reaches the user.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if done.returncode == 0:
        return json.loads(done.stdout) if done.stdout.strip() else None
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    last = lines[-1].removeprefix("error: ") if lines else f"exit code {done.returncode}"
    if done.returncode in (2, MISSING_EXTRA):
        raise UserError(last)
    raise UserError(f"{module} failed: {last}")


def answer(handler: Any, argv: Sequence[str] | None = None) -> int:
    """The engine side of `call_engine`: read the request, print the handler's JSON answer, map errors to exits.

    Args:
        handler: `request, args -> answer`.
    """
    try:
        request = json.loads(sys.stdin.read() or "null")
        print(json.dumps(handler(request, list(sys.argv[1:] if argv is None else argv))))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(
            f"error: {exc.name or exc} is not installed: it comes with the engine extra, "
            f"pip install 'labconsole[engine]'",
            file=sys.stderr,
        )
        return MISSING_EXTRA
    return 0
