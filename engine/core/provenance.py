"""What a run ran on: code commit (and the diff of a dirty tree), package versions, host, seed, command, weights.

Recorded in run.json at the run's first start so that "why do these two numbers differ?" has an answer, and
compared again on resume and rerun to name what changed since. Torch-free: versions come from package metadata
(the engine adds CUDA, cuDNN and GPU facts, which need torch).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
import subprocess
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

CODE_ROOT = Path(__file__).resolve().parents[2]
"""The checkout labconsole runs from (its engine is the code a run trains with)."""
DIFF_FILE = "code.diff"
"""The dirty tree's `git diff HEAD`, stored in the run folder."""
MAX_DIFF_BYTES = 5 << 20
"""A diff larger than this is cut (and says so): generated files must not fill the runs folder."""
PACKAGES = ("labconsole", "torch", "torchvision", "timm", "faiss-cpu", "faiss-gpu", "numpy", "pillow")
"""Distributions whose versions change numbers (faiss comes as one of two)."""
WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors", ".bin", ".ckpt", ".npz")
_GIT_TIMEOUT_S = 5.0


def collect_provenance(cfg: dict[str, Any], run_root: Path | None, argv: Sequence[str]) -> dict[str, Any]:
    """Everything this module can tell without torch; the diff of a dirty tree is written into `run_root`."""
    return {
        "seed": cfg.get("train", {}).get("seed"),
        "code": code_state(CODE_ROOT, run_root),
        "versions": package_versions(),
        "host": host_facts(),
        "command": shlex.join(argv),
        "weights": weight_hashes(cfg),
    }


def code_state(repo: Path, run_root: Path | None = None) -> dict[str, Any]:
    """Commit, branch and dirtiness of `repo` (empty when it is not a git checkout or git is missing)."""
    commit = _git(repo, "rev-parse", "HEAD")
    if not commit:
        return {}
    state: dict[str, Any] = {"commit": commit, "branch": _git(repo, "rev-parse", "--abbrev-ref", "HEAD")}
    diff = _git(repo, "diff", "--no-ext-diff", "HEAD", strip=False) or ""
    state["dirty"] = bool(diff)
    if diff:
        data = diff.encode("utf-8", "replace")
        state["diff_sha256"] = hashlib.sha256(data).hexdigest()
        if run_root is not None:
            if len(data) > MAX_DIFF_BYTES:
                data = data[:MAX_DIFF_BYTES] + b"\n[labconsole: diff cut at 5 MB]\n"
            try:
                (run_root / DIFF_FILE).write_bytes(data)
                state["diff_file"] = DIFF_FILE
            except OSError:
                pass  # provenance must never stop a run; the hash still tells whether two trees differ
    return state


def _git(repo: Path, *args: str, strip: bool = True) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode:
        return None
    return out.stdout.strip() if strip else out.stdout


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Python's version and each installed distribution's (absent ones are left out)."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def host_facts() -> dict[str, Any]:
    """Host name, OS, CPU model and count, memory."""
    facts: dict[str, Any] = {
        "name": platform.node(),
        "os": platform.platform(terse=True),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
    }
    try:
        import psutil

        facts["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return facts


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def weight_hashes(cfg: dict[str, Any]) -> dict[str, str]:
    """sha256 of every local weights file the model section names (a hub id is not a file and is skipped)."""
    found: dict[str, str] = {}
    for value in _strings(cfg.get("model", {})):
        path = Path(value).expanduser()
        if path.suffix.lower() in WEIGHT_SUFFIXES and path.is_file():
            found[str(path)] = file_sha256(path)
    return found


def _strings(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def file_sha256(path: Path) -> str:
    """The file's sha256, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What changed between two provenance records, one short phrase each ("torch 2.14.1 → 2.15.0")."""
    changes: list[str] = []
    old_code, new_code = recorded.get("code") or {}, current.get("code") or {}
    if old_code.get("commit") and new_code.get("commit"):
        if old_code["commit"] != new_code["commit"]:
            changes.append(f"code commit {old_code['commit'][:8]} → {new_code['commit'][:8]}")
        elif old_code.get("diff_sha256") != new_code.get("diff_sha256"):
            before = "uncommitted changes" if old_code.get("dirty") else "a clean tree"
            after = "other uncommitted changes" if new_code.get("dirty") else "a clean tree"
            changes.append(f"code: {before} then, {after} now")
    old_versions, new_versions = recorded.get("versions") or {}, current.get("versions") or {}
    for name in sorted(set(old_versions) | set(new_versions)):
        was, now = old_versions.get(name), new_versions.get(name)
        if was != now and was is not None:
            changes.append(f"{name} {was} → {now or 'not installed'}")
    old_weights, new_weights = recorded.get("weights") or {}, current.get("weights") or {}
    for path, digest in old_weights.items():
        if path in new_weights and new_weights[path] != digest:
            changes.append(f"weights file {path} changed")
        elif path not in new_weights:
            changes.append(f"weights file {path} is gone")
    return changes


def provenance_lines(record: dict[str, Any]) -> list[str]:
    """A provenance record as a few readable lines (show, the monitor)."""
    lines: list[str] = []
    code = record.get("code") or {}
    if code.get("commit"):
        dirty = f", uncommitted changes in {code.get('diff_file') or 'the tree'}" if code.get("dirty") else ""
        lines.append(f"code {code['commit'][:10]} ({code.get('branch') or '?'}){dirty}")
    versions = record.get("versions") or {}
    parts = [f"seed {record['seed']}"] if record.get("seed") is not None else []
    parts += [f"{name} {version}" for name, version in versions.items()]
    if parts:
        lines.append(" · ".join(parts))
    host = record.get("host") or {}
    acc = record.get("accelerators") or {}
    if host:
        gpus = acc.get("gpus") or []
        gpu_text = f"{len(gpus)}× {gpus[0]}" if gpus and len(set(gpus)) == 1 else ", ".join(gpus) or "no GPU"
        cuda = f" (CUDA {acc['cuda']}, cuDNN {acc.get('cudnn')}, driver {acc.get('driver')})" if gpus else ""
        memory = f" · {host['memory_gb']} GB" if host.get("memory_gb") else ""
        lines.append(
            f"host {host.get('name')} · {host.get('cpu')} × {host.get('cpus')}{memory} · {gpu_text}{cuda}"
        )
    if record.get("command"):
        lines.append(f"command {record['command']}")
    for path, digest in (record.get("weights") or {}).items():
        lines.append(f"weights {path} sha256 {digest[:16]}")
    return lines
