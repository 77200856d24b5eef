"""The loss registry, the `Loss` base class every registered loss derives from, and `build_loss`."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.core.config.presets import preset_params
from engine.core.errors import ConfigError
from engine.core.registry import Registry

#: Dotted config key that loss errors are reported under.
KEY = "loss"
#: Keys the config resolver keeps for display; they are not factory parameters.


class Loss(nn.Module):
    """Base of every registered loss: float32 computation plus uniform per-component reporting.

    Subclasses implement `compute`; `forward` runs it in float32 outside autocast and records the value
    in `last_components`, so the task logs every loss the same way (`loss/<name>`), single or mixed.
    Losses are called as `loss(outputs, targets)`: for VPR, B×D descriptors and B place labels; for
    classification and segmentation, class logits and class indices (see engine.losses.logits).

    Attributes:
        name: The component name the value is reported under; the registry sets it to the entry's name,
            a loss mix to the (de-duplicated) component name.
        last_components: Component name -> detached scalar of the last forward call.
        inputs: The model output it takes: "descriptors" (VPR metric and margin losses) or "logits"
            (class scores: classification N×C, segmentation N×C×H×W); tasks check it with `check_inputs`.
        one_image_per_class: Whether a VPR batch may hold one image of each class (classification losses
            learn class centres); pair and triplet losses need several images of each place.
    """

    inputs = "descriptors"
    one_image_per_class = False

    def __init__(self) -> None:
        super().__init__()
        self.name = "loss"
        self.last_components: dict[str, torch.Tensor] = {}

    def compute(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Float32 model outputs and their targets -> scalar loss."""
        raise NotImplementedError

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Model outputs and targets -> scalar float32 loss; also refreshes `last_components`."""
        # Float32 outside autocast: exp(beta * S) overflows and cosine margins lose their meaning in half
        # precision, and the cost is negligible next to the backbone.
        with torch.autocast(outputs.device.type, enabled=False):
            value = self.compute(outputs.float(), targets)
        self.last_components = {self.name: value.detach()}
        return value


class LossRegistry(Registry):
    """A registry whose builds are `Loss` modules named after their entry."""

    def build(self, name: str, /, *args: Any, **kwargs: Any) -> Loss:
        """Build entry `name` and label the module with it (the key its value is logged under)."""
        module = super().build(name, *args, **kwargs)
        if not isinstance(module, Loss):
            raise TypeError(f"loss '{name}' must build an engine.losses.Loss, got {type(module).__name__}")
        module.name = name
        return module


LOSSES = LossRegistry("loss", "loss.name")


def factory_params(section: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Split a resolved loss section into its registry name and the factory's keyword params."""
    return str(section["name"]), preset_params(section)


def build_loss(section: dict[str, Any], embedding_dim: int, num_classes: int) -> Loss:
    """Build the loss a resolved `loss` section describes.

    Args:
        section: `{"name": ..., **params}` (`preset` and `description` are ignored).
        embedding_dim: Descriptor size D the model outputs.
        num_classes: Number of classes (VPR: places) in the training set, for classification losses.

    Returns:
        A `Loss` called as `loss(descriptors B×D, labels B) -> scalar tensor`, with `last_components`.
    """
    name, params = factory_params(section)
    return LOSSES.build(name, embedding_dim, num_classes, **params)


def takes_one_image_per_class(loss: nn.Module) -> bool:
    """Whether every part of `loss` (a mix: each component) learns from one image of each class."""
    parts = getattr(loss, "parts", None)
    items = list(parts.values()) if isinstance(parts, nn.ModuleDict) else [loss]
    return all(getattr(part, "one_image_per_class", False) for part in items)


def check_inputs(loss: Loss, inputs: str, task: str, allowed: list[str]) -> None:
    """Every loss (or mix component) must take the model output the task produces.

    Raises:
        ConfigError: at `loss.name` (or `loss.components[i].name`), naming the losses `task` allows.
    """
    parts = getattr(loss, "parts", None)
    items = list(parts.items()) if isinstance(parts, nn.ModuleDict) else [(loss.name, loss)]
    for index, (name, part) in enumerate(items):
        if getattr(part, "inputs", None) != inputs:
            key = f"{KEY}.components[{index}].name" if parts is not None else f"{KEY}.name"
            raise ConfigError(
                key,
                f"'{name}' is a loss on {part.inputs}, {task} trains on {inputs}; "
                f"allowed: {', '.join(allowed)}",
            )
