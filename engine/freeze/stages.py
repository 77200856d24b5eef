"""Backbone stages derived from the model, and the group paths a freeze schedule may name.

Stage names are the module names of the model the backbone wraps (`TimmBackbone.body`, the ViT
wrapper's `vit`, or the backbone itself), so they match its state dict:

- ResNet / ResNeXt / ResNeSt: `stem` (conv1, bn1, act1, maxpool), `layer1` … `layer4`
- ConvNeXt: `stem` (stem_0, stem_1), `stages_0` … `stages_3` (timm's features wrapper renames
  `stages.0`; the dotted spelling is accepted too); Swin: `stem` (patch_embed), `layers_0` … `layers_3`
- EfficientNet / MobileNetV3: `stem` (conv_stem, bn1), `blocks.0` … `blocks.N`; `blocks` = all of them
- DINOv2 / ViT: `stem` (patch_embed, cls_token, reg_token, pos_embed), `blocks.0` … `blocks.N`
  (the final `norm` counts with the last block); `blocks` = all blocks
- plain_cnn: `layers.0` … `layers.N` (no stem: its first conv is `layers.0`)

Plus `backbone.norm`: every normalization layer of the backbone (BatchNorm, LayerNorm, GroupNorm).

Task-neutral names, so one freeze preset fits every task: `non_backbone` is every top-level group but the
backbone (aggregator, neck, head; the loss follows the head), and `aggregator` names the part between backbone
and head where the model has one (a segmentation model's `neck`, else nothing). A path with `*`, `?` or `[`
is a pattern, matched with fnmatch against the paths above and every module's own name under its group
(`backbone.layer3*`, `neck.*`, `backbone.body.layer4.1.*`); the outermost matches count.
"""

from __future__ import annotations

import fnmatch
import re
from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from engine.core.errors import ConfigError

NORM_TYPES = (
    nn.modules.batchnorm._BatchNorm,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
)
# "layer1", "stages_0", "layers_3": children numbered within a family are the stages.
_NUMBERED = re.compile(r"^(?P<family>[A-Za-z][A-Za-z_]*?)_?\d+$")
_HINT = (
    "a stage may also be given by index (backbone.-1 = last) "
    "or as backbone.<stage>+ for it and all later ones"
)
#: Every top-level group but the backbone: what trains while the backbone is frozen, on any task.
NON_BACKBONE = "non_backbone"
#: Groups that may stand for `aggregator` on a model without one (segmentation models call it a neck).
_AGGREGATOR_ROLES = ("aggregator", "neck")
_PATTERN_CHARS = frozenset("*?[")


def is_pattern(path: str) -> bool:
    """Whether a user-written path is an fnmatch pattern (`backbone.layer3*`, `neck.*`)."""
    return bool(_PATTERN_CHARS & set(path))


class StageView(nn.Module):
    """Modules and loose parameters of a model addressed together; a view, not registered in the model."""

    def __init__(
        self, modules: Sequence[tuple[str, nn.Module]] = (), params: Sequence[tuple[str, nn.Parameter]] = ()
    ) -> None:
        super().__init__()
        for name, module in modules:
            self.add_module(name.replace(".", "_"), module)
        for name, param in params:
            self.register_parameter(name.replace(".", "_"), param)

    def forward(self, *args: object) -> None:
        raise TypeError("a StageView only groups parameters; it has no forward")


def backbone_stages(backbone: nn.Module) -> OrderedDict[str, nn.Module]:
    """The backbone's stem and stages in forward order (see the module docstring for the names).

    Children before the first stage, and the body's own parameters (a ViT's cls_token / pos_embed),
    form `stem` (omitted when empty); children after a stage (a ViT's final norm) join that stage, and so
    do parameters the wrapper holds outside the body (they sit on the output side).
    """
    return _describe(backbone)[0]


def _describe(backbone: nn.Module) -> tuple[OrderedDict[str, nn.Module], dict[str, nn.Module]]:
    """(stem + stages, container aliases such as "blocks") of a backbone."""
    body = _body(backbone)
    children, container = _stage_children(body)
    stage_names = (
        _stage_names(children)
        if container is None
        else [name for name, _ in children if name.startswith(f"{container}.")]
    )
    groups: OrderedDict[str, list[tuple[str, nn.Module]]] = OrderedDict(stem=[])
    current = "stem"
    for name, module in children:
        current = name if name in stage_names else current
        groups.setdefault(current, []).append((name, module))
    in_body = {id(p) for p in body.parameters()}
    outside = [(n, p) for n, p in backbone.named_parameters() if id(p) not in in_body]
    loose = {"stem": list(body.named_parameters(recurse=False))}
    loose[current] = loose.get(current, []) + outside
    if not groups["stem"] and not loose["stem"]:
        del groups["stem"]
    stages = OrderedDict((name, _view(groups[name], loose.get(name, []))) for name in groups)
    aliases = {container: StageView([(n, m) for n, m in children if n in stage_names])} if container else {}
    return stages, aliases


def _view(modules: list[tuple[str, nn.Module]], params: list[tuple[str, nn.Parameter]]) -> nn.Module:
    """The module itself when a stage is exactly one module, else a view over its parts."""
    return modules[0][1] if len(modules) == 1 and not params else StageView(modules, params)


def _body(backbone: nn.Module) -> nn.Module:
    """The model holding the stages: TimmBackbone.body, the ViT wrapper's vit, else the backbone itself."""
    for attr in ("body", "vit"):
        inner = getattr(backbone, attr, None)
        if isinstance(inner, nn.Module):
            return inner
    return backbone


def _stage_children(body: nn.Module) -> tuple[list[tuple[str, nn.Module]], str | None]:
    """The body's children in order; with no numbered family, its largest Sequential/ModuleList expanded.

    Returns (children, name of the expanded container or None).
    """
    children = list(body.named_children())
    if _stage_names(children):
        return children, None
    containers = [
        (name, m) for name, m in children if isinstance(m, (nn.Sequential, nn.ModuleList)) and len(m)
    ]
    if not containers:
        return children, None
    name, largest = max(containers, key=lambda item: _count(item[1]))
    expanded = []
    for child_name, child in children:
        if child is largest:
            expanded += [(f"{name}.{i}", m) for i, m in largest.named_children()]
        else:
            expanded.append((child_name, child))
    return expanded, name


def _stage_names(children: list[tuple[str, nn.Module]]) -> list[str]:
    """Names of the numbered family (≥ 2 members) holding the most parameters: layer1..4, not stem_0..1."""
    families: dict[str, list[str]] = {}
    for name, _ in children:
        found = _NUMBERED.match(name)
        if found:
            families.setdefault(found["family"], []).append(name)
    sizes = {
        family: sum(_count(dict(children)[n]) for n in names)
        for family, names in families.items()
        if len(names) >= 2
    }
    return families[max(sizes, key=sizes.__getitem__)] if sizes else []


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def group_paths(modules: dict[str, nn.Module]) -> OrderedDict[str, nn.Module]:
    """Every path a phase may name -> the module (or view) whose parameters it covers."""
    paths: OrderedDict[str, nn.Module] = OrderedDict()
    for group, module in modules.items():
        paths[group] = module
        if group == "backbone":
            stages, aliases = _describe(module)
            paths.update((f"backbone.{name}", stage) for name, stage in stages.items())
            paths.update((f"backbone.{name}", view) for name, view in aliases.items())
            norms = [(name, m) for name, m in module.named_modules() if isinstance(m, NORM_TYPES)]
            paths["backbone.norm"] = StageView(norms)
    return paths


def resolve_paths(modules: dict[str, nn.Module], paths: Sequence[str], key: str) -> tuple[str, ...]:
    """Canonical paths for user-written ones: indices and `stage+` ranges become stage names, `non_backbone` the
    groups it stands for, a pattern the module paths it matches.

    `loss` is always accepted (a task without a loss module simply has nothing there).

    Raises:
        ConfigError: at `key`, for an unknown path, listing the model's real paths; for a pattern that matches
            nothing, listing the top-level groups.
    """
    available = group_paths(modules)
    stages = list(backbone_stages(modules["backbone"])) if "backbone" in modules else []
    out: list[str] = []
    for path in paths:
        if is_pattern(path):
            out += match_pattern(modules, path, key)
        else:
            out += _resolve_one(path, available, stages, key, modules)
    return tuple(dict.fromkeys(out))


def match_pattern(modules: dict[str, nn.Module], pattern: str, key: str) -> list[str]:
    """The outermost module paths an fnmatch `pattern` matches: group paths (stages included) and every module's
    own name under its group (`head.aspp.0`).

    Raises:
        ConfigError: at `key` when nothing matches, listing the top-level groups.
    """
    candidates = dict.fromkeys(group_paths(modules))
    for group, module in modules.items():
        candidates.update(dict.fromkeys(f"{group}.{name}" for name, _ in module.named_modules() if name))
    matched = [path for path in candidates if fnmatch.fnmatchcase(path, pattern)]
    outermost = [path for path in matched if not any(path.startswith(f"{other}.") for other in matched)]
    if not outermost:
        raise ConfigError(
            key,
            f"the pattern '{pattern}' matches no module; top-level groups: {', '.join(modules)} "
            f"(patterns match module names under them, e.g. backbone.layer3*, head.*)",
        )
    return outermost


def module_at(modules: dict[str, nn.Module], available: dict[str, nn.Module], path: str) -> nn.Module | None:
    """The module (or view) a canonical path names: a group path, or a module's own name under its group."""
    if path in available:
        return available[path]
    group, _, inner = path.partition(".")
    if group not in modules or not inner:
        return None
    try:
        return modules[group].get_submodule(inner)
    except AttributeError:
        return None


def _resolve_one(
    path: str,
    available: dict[str, nn.Module],
    stages: list[str],
    key: str,
    modules: dict[str, nn.Module] | None = None,
) -> list[str]:
    groups = tuple(modules or ())
    if path in available or path == "loss":
        return [path]
    if modules and "." in path and module_at(modules, available, path) is not None:
        return [path]  # a module's own name under its group (what a pattern matches): head.classifier
    if path == NON_BACKBONE:
        return [group for group in groups if group not in ("backbone", "loss")]
    if path == "aggregator":  # the role between backbone and head; a model without one has nothing there
        return [group for group in _AGGREGATOR_ROLES if group in groups][:1]
    if path.endswith("+"):
        first = _resolve_one(path[:-1], available, stages, key)
        if len(first) == 1 and first[0].removeprefix("backbone.") in stages:
            return [f"backbone.{s}" for s in stages[stages.index(first[0].removeprefix("backbone.")) :]]
    elif path.startswith("backbone."):
        token = path.removeprefix("backbone.")
        numbered = [s for s in stages if s != "stem"]
        if re.fullmatch(r"-?\d+", token) and -len(numbered) <= int(token) < len(numbered):
            return [f"backbone.{numbered[int(token)]}"]
        underscored = "_".join(token.rsplit(".", 1))  # "stages.0" as timm's full model spells "stages_0"
        if f"backbone.{underscored}" in available:
            return [f"backbone.{underscored}"]
    names = [p for p in available] + ([] if "loss" in available else ["loss"]) + [NON_BACKBONE]
    raise ConfigError(
        key,
        f"unknown group '{path}'; available: {', '.join(names)} ({_HINT}; or a pattern such as backbone.layer3*)",
    )


class ModelPaths:
    """A model's group paths for a freeze schedule (engine.core.freeze.PathResolver): its groups, and user paths
    checked and resolved against its real modules and backbone stages."""

    def __init__(self, modules: dict[str, nn.Module]) -> None:
        self.modules = modules
        self.groups = tuple(modules)

    def resolve(self, paths: Sequence[str], key: str) -> tuple[str, ...]:
        return resolve_paths(self.modules, paths, key)
