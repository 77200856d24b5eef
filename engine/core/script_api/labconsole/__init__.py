"""`import labconsole`: the logging API for scripts that write runs themselves (see engine/core/script_run.py).

    import labconsole

    with labconsole.init(name="my-loop", config={"optim": {"lr": 1e-3}}) as run:
        run.log({"loss/total": 0.7}, step=1)

This folder is mapped to the top-level name `labconsole` by pyproject.toml ([tool.setuptools.packages.find]
`where`), since the repository's top level is fixed.
"""

from engine.core.script_run import ScriptRun, init

__all__ = ["ScriptRun", "init"]
