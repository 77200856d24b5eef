"""Loading backbone weights from a local .pth/.pt/.safetensors file, with a report of what did not match."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.errors import UserError

log = logging.getLogger(__name__)

# Keys under which training scripts commonly nest the real state dict (ours use "model").
_CONTAINER_KEYS = ("state_dict", "model", "model_state_dict", "net", "module")
# How many names of each kind the one-line report lists before "...".
_SHOWN = 5


@dataclass
class LoadReport:
    """What happened when a weights file was loaded into a module.

    Attributes:
        file: The weights file.
        loaded: Number of tensors copied into the module.
        expected: Number of tensors the module wanted.
        prefix: Key prefix stripped from the file's names ('' when none).
        missing: Module tensors the file did not provide (they keep their random init).
        unexpected: File tensors the module has no place for.
        mismatched: Names present on both sides with different shapes (skipped).
    """

    file: str
    loaded: int
    expected: int
    prefix: str = ""
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when every tensor matched one to one."""
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self) -> str:
        """One line: counts plus the first few names of each kind of mismatch."""
        text = f"loaded {self.loaded}/{self.expected} tensors from {self.file}"
        if self.prefix:
            text += f" (stripped prefix '{self.prefix}')"
        for label, names in (("missing", self.missing), ("unexpected", self.unexpected),
                             ("shape mismatch", self.mismatched)):
            if names:
                more = ", ..." if len(names) > _SHOWN else ""
                text += f"; {label} {len(names)}: {', '.join(names[:_SHOWN])}{more}"
        return text


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from .safetensors or a torch pickle (weights only), unwrapping checkpoint dicts.

    Raises:
        UserError: naming the file when it is missing, unreadable or holds no tensors.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path), device="cpu")
        else:
            # weights_only refuses arbitrary pickled objects: a weights file must not run code.
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch/safetensors raise many types for a corrupt file
        raise UserError(f"could not read weights file {path}: {type(exc).__name__}: {exc}") from None
    tensors = _unwrap(obj)
    if not tensors:
        raise UserError(f"weights file {path} holds no tensors")
    return tensors


def _unwrap(obj: Any) -> dict[str, torch.Tensor]:
    """Descend into {"state_dict": ...}-style containers until a mapping of tensors is found."""
    while isinstance(obj, Mapping):
        tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if tensors:
            return tensors
        inner = next((obj[k] for k in _CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            return {}
        obj = inner
    return {}


def best_prefix(names: Iterable[str], targets: set[str]) -> str:
    """The dotted prefix (e.g. 'module.', 'backbone.body.') whose removal makes most names match `targets`."""
    names = list(names)
    candidates = {""}
    for name in names:
        parts = name.split(".")
        candidates.update(".".join(parts[:i]) + "." for i in range(1, min(len(parts), 4)))

    def score(prefix: str) -> tuple[int, int]:
        hits = sum(n.startswith(prefix) and n[len(prefix):] in targets for n in names)
        return hits, -len(prefix)  # ties go to the shorter prefix

    return max(candidates, key=score)


def load_weights(module: nn.Module, state: dict[str, torch.Tensor], file: str,
                 ignore_missing: tuple[str, ...] = ()) -> LoadReport:
    """Copy matching tensors of `state` into `module` (strict=False) and report the rest.

    Args:
        module: Destination module.
        state: Tensors by name, as read by `read_state_dict`.
        file: Name of the source, for the report.
        ignore_missing: Name prefixes not reported as missing (e.g. a classifier the backbone drops).

    Raises:
        UserError: when not a single tensor matches (almost surely the wrong file for this model).
    """
    own = module.state_dict()
    prefix = best_prefix(state, set(own))
    renamed = {n[len(prefix):] if n.startswith(prefix) else n: t for n, t in state.items()}
    usable = {n: t for n, t in renamed.items() if n in own and t.shape == own[n].shape}
    report = LoadReport(
        file=file, loaded=len(usable), expected=len(own), prefix=prefix,
        missing=[n for n in own if n not in renamed and not n.startswith(ignore_missing)],
        unexpected=[n for n in renamed if n not in own],
        mismatched=[f"{n} {tuple(t.shape)} vs {tuple(own[n].shape)}"
                    for n, t in renamed.items() if n in own and t.shape != own[n].shape],
    )
    if not usable:
        raise UserError(f"no tensor in weights file {file} matches this model: {report.summary()}")
    module.load_state_dict(usable, strict=False)
    (log.info if report.clean else log.warning)("backbone weights: %s", report.summary())
    return report


def load_weights_file(module: nn.Module, path: str, ignore_missing: tuple[str, ...] = ()) -> LoadReport:
    """`read_state_dict` + `load_weights` in one call."""
    return load_weights(module, read_state_dict(path), str(path), ignore_missing)
