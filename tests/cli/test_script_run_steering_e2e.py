"""A plain PyTorch loop written with `import labconsole`, steered from the real CLI: a key the script does not
know is rejected (exit 2), `set optim.lr=…` is applied at a step (exit 0) and the loop trains on with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.core.protocol import iter_events, read_json
from tests.cli.test_cli_e2e import labconsole

FOREIGN_LOOP = """
import sys, time
import torch
import labconsole

torch.manual_seed(0)
model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
x = torch.randn(64, 4)
y = x.sum(1, keepdim=True)
with labconsole.init(name="foreign", config={"optim": {"lr": 0.001}}, runs_dir=sys.argv[1],
                     settable=["optim.lr"]) as run:
    print(run.id, flush=True)
    step, steered_at, deadline = 0, None, time.monotonic() + 60
    while time.monotonic() < deadline and (steered_at is None or step < steered_at + 3):
        step += 1
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.log({"loss/total": loss.item(), "lr/all": optimizer.param_groups[0]["lr"]}, step=step)
        for command in run.poll_control():
            lr = command["values"].get("optim.lr")
            if set(command["values"]) != {"optim.lr"} or not isinstance(lr, float) or lr <= 0:
                run.answer(command, applied=False, reason="cannot set " + ", ".join(command["values"])
                           + "; settable: optim.lr")
                continue
            for group in optimizer.param_groups:
                group["lr"] = lr
            run.answer(command, applied=True)
            steered_at = step
        time.sleep(0.02)
    run.eval("val", {"mse": round(loss.item(), 4)}, step=step)
"""


def test_cli_steers_the_lr_of_a_foreign_pytorch_loop(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(FOREIGN_LOOP)
    runs = tmp_path / "runs"
    loop = subprocess.Popen(
        [sys.executable, str(script), str(runs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        run_id = loop.stdout.readline().strip()  # type: ignore[union-attr]
        assert run_id, loop.communicate(timeout=30)[1]
        rejected = labconsole("set", run_id, "optim.momentum=0.9", runs=runs, timeout=60)
        assert rejected.returncode == 2 and "rejected: cannot set optim.momentum" in rejected.stderr
        applied = labconsole("set", run_id, "optim.lr=0.05", runs=runs, timeout=60)
        assert applied.returncode == 0, applied.stderr
        assert "applied at step" in applied.stdout and "optim.lr=0.05" in applied.stdout
        _, err = loop.communicate(timeout=60)
        assert loop.returncode == 0, err
    finally:
        if loop.poll() is None:
            loop.kill()
    run_dir = runs / run_id
    answer = next(e for e in iter_events(run_dir / "events.jsonl") if e.get("status") == "applied")
    lrs = {
        e["step"]: e["values"]["lr/all"]
        for e in iter_events(run_dir / "events.jsonl")
        if e["kind"] == "scalar"
    }
    assert lrs[answer["step"]] == 0.001 and lrs[answer["step"] + 1] == 0.05
    info = read_json(run_dir / "run.json")
    assert info["status"] == "completed" and "mse" in info["best"]["val"]
