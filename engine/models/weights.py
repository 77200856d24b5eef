"""Loading backbone weights from a local .pth/.pt/.safetensors file, with a report of what did not match."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.checkpoint import load_failure
from engine.core.errors import UserError

log = logging.getLogger(__name__)

# Keys under which training scripts commonly nest the real state dict (ours use "model"; DINOv2's
# training checkpoints use "teacher").
_CONTAINER_KEYS = ("state_dict", "model", "model_state_dict", "net", "module", "teacher")
# How many names of each kind the one-line report lists before "...".
_SHOWN = 5
# A name whose first integer component indexes an nn.Sequential: `features.4.0.conv1.weight`.
_SEQUENTIAL = re.compile(r"^((?:[^.]+\.)*?)(\d+)\.(.+)$")

StateDict = dict[str, torch.Tensor]


@dataclass
class LoadReport:
    """What happened when a weights file was loaded into a module.

    Attributes:
        file: The weights file.
        loaded: Number of tensors copied into the module.
        expected: Number of tensors the module wanted.
        prefix: Key prefix stripped from the file's names ('' when none).
        sequential: True when the file's names were `<prefix>N.…` indices into an nn.Sequential of the
            model's children (CosPlace, cirtorch/GLDv2 checkpoints) and were mapped to the children's names.
        missing: Module tensors the file did not provide (they keep their random init).
        unexpected: File tensors the module has no place for.
        mismatched: Names present on both sides with different shapes (skipped).
        ignored: File tensors that did not fit a part the backbone drops (the classifier); not an error.
    """

    file: str
    loaded: int
    expected: int
    prefix: str = ""
    sequential: bool = False
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when every tensor the backbone uses matched one to one."""
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self) -> str:
        """One line: counts plus the first few names of each kind of mismatch."""
        text = f"loaded {self.loaded}/{self.expected} tensors from {self.file}"
        if self.prefix:
            text += f" (stripped prefix '{self.prefix}')"
        if self.sequential:
            text += " (mapped nn.Sequential indices to the model's module names)"
        for label, names in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("shape mismatch", self.mismatched),
            ("ignored classifier", self.ignored),
        ):
            if names:
                more = ", ..." if len(names) > _SHOWN else ""
                text += f"; {label} {len(names)}: {', '.join(names[:_SHOWN])}{more}"
        return text


def read_state_dict(path: str | Path) -> StateDict:
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
        raise UserError(f"could not read weights file {path}: {load_failure(exc)}") from None
    tensors = _unwrap(obj)
    if not tensors:
        raise UserError(f"weights file {path} holds no tensors")
    return tensors


def _unwrap(obj: Any) -> StateDict:
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
        hits = sum(n.startswith(prefix) and n[len(prefix) :] in targets for n in names)
        return hits, -len(prefix)  # ties go to the shorter prefix

    return max(candidates, key=score)


def _strip(state: StateDict, prefix: str) -> StateDict:
    return {n[len(prefix) :] if n.startswith(prefix) else n: t for n, t in state.items()}


def sequential_names(state: StateDict, children: list[str]) -> tuple[StateDict, str]:
    """Rename `<prefix>N.rest` to `<children[N]>.rest` for the most common prefix before an index.

    Checkpoints of `nn.Sequential(*list(resnet.children())[:-2])` (CosPlace `backbone.4.0.conv1.weight`,
    cirtorch/GLDv2 `features.4.0.conv1.weight`) index the children in the same order as the model.

    Returns:
        The renamed state (names under other prefixes unchanged) and the prefix that was replaced.
    """
    matches = {n: _SEQUENTIAL.match(n) for n in state}
    prefixes = Counter(m.group(1) for m in matches.values() if m and int(m.group(2)) < len(children))
    if not prefixes:
        return state, ""
    prefix = prefixes.most_common(1)[0][0]
    out = {}
    for name, tensor in state.items():
        m = matches[name]
        if m and m.group(1) == prefix and int(m.group(2)) < len(children):
            name = f"{children[int(m.group(2))]}.{m.group(3)}"
        out[name] = tensor
    return out, prefix


def match_names(module: nn.Module, state: StateDict) -> tuple[StateDict, str, bool]:
    """The file's names mapped onto the module's: a stripped prefix, or nn.Sequential indices renamed.

    Returns:
        (renamed state, prefix removed, whether sequential indices were mapped); whichever mapping
        matches more of the module's names wins, a plain prefix on ties.
    """
    own = set(module.state_dict())
    prefix = best_prefix(state, own)
    plain = _strip(state, prefix)
    children = [name for name, _ in module.named_children()]
    indexed, seq_prefix = sequential_names(state, children)
    if sum(n in own for n in indexed) > sum(n in own for n in plain):
        return indexed, seq_prefix, True
    return plain, prefix, False


def load_weights(
    module: nn.Module,
    state: StateDict,
    file: str,
    ignore: tuple[str, ...] = (),
    convert: Callable[[StateDict], StateDict] | None = None,
) -> LoadReport:
    """Copy matching tensors of `state` into `module` (strict=False) and report the rest.

    Args:
        module: Destination module.
        state: Tensors by name, as read by `read_state_dict`.
        file: Name of the source, for the report.
        ignore: Name prefixes of parts the backbone drops (its classifier): never reported as
            missing, and a file tensor there with another shape (365 Places classes) is only `ignored`.
        convert: Applied to the state after renaming, before matching (e.g. timm's ViT checkpoint
            filter: original DINOv2 names, position embeddings resampled to the model's grid).

    Raises:
        UserError: when not a single tensor matches (almost surely the wrong file for this model).
    """
    own = module.state_dict()
    renamed, prefix, sequential = match_names(module, state)
    if convert is not None:
        renamed = convert(renamed)
    usable = {n: t for n, t in renamed.items() if n in own and t.shape == own[n].shape}
    misfits = [n for n, t in renamed.items() if n in own and t.shape != own[n].shape]
    report = LoadReport(
        file=file,
        loaded=len(usable),
        expected=len(own),
        prefix=prefix,
        sequential=sequential,
        missing=[n for n in own if n not in renamed and not n.startswith(ignore)],
        unexpected=[n for n in renamed if n not in own],
        mismatched=[
            f"{n} {tuple(renamed[n].shape)} vs {tuple(own[n].shape)}"
            for n in misfits
            if not n.startswith(ignore)
        ],
        ignored=[n for n in misfits if n.startswith(ignore)],
    )
    if not usable:
        raise UserError(f"no tensor in weights file {file} matches this model: {report.summary()}")
    module.load_state_dict(usable, strict=False)
    (log.info if report.clean else log.warning)("backbone weights: %s", report.summary())
    return report


def load_weights_file(
    module: nn.Module,
    path: str,
    ignore: tuple[str, ...] = (),
    convert: Callable[[StateDict], StateDict] | None = None,
) -> LoadReport:
    """`read_state_dict` + `load_weights` in one call."""
    return load_weights(module, read_state_dict(path), str(path), ignore, convert)
