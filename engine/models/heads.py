"""Head registry: global descriptor B×in -> B×out projection before L2 normalisation (none, linear, MLP)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.core.config.presets import preset_params
from engine.core.errors import ConfigError
from engine.core.registry import Registry

HEADS = Registry("head", "model.head.name")
_KEY = "model.head"
# Keys the config resolver keeps for display; they are not factory parameters.


class Identity(nn.Module):
    """No projection: the aggregator's descriptor is the final one.

    Attributes:
        out_dim: Equal to the input size.
    """

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.out_dim = in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×in -> B×in, unchanged."""
        return x


class Projection(nn.Module):
    """A linear layer or an MLP to `out_dim`; its input size is the aggregator's `out_dim`.

    Attributes:
        out_dim: Descriptor size after the projection.
    """

    def __init__(self, layers: nn.Sequential, out_dim: int) -> None:
        super().__init__()
        self.layers = layers
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×in -> B×out_dim."""
        return self.layers(x)


@HEADS.register("none")
def none(in_dim: int, descriptor_dim: int) -> nn.Module:
    """No projection; descriptor size = aggregator output (model.descriptor_dim is ignored)."""
    return Identity(in_dim)


@HEADS.register("linear")
def linear(in_dim: int, descriptor_dim: int) -> nn.Module:
    """One fully connected layer to model.descriptor_dim (CosPlace-style)."""
    _check_dim(descriptor_dim)
    return Projection(nn.Sequential(nn.Linear(in_dim, descriptor_dim)), descriptor_dim)


#: Normalisation after each hidden linear layer of the MLP head.
MLP_NORMS = ("none", "bn", "ln")


@HEADS.register("mlp")
def mlp(
    in_dim: int,
    descriptor_dim: int,
    hidden_dim: int = 0,
    dropout: float = 0.0,
    layers: int = 2,
    norm: str = "none",
) -> nn.Module:
    """`layers` linear layers to model.descriptor_dim, each hidden one followed by norm, ReLU, dropout."""
    _check_dim(descriptor_dim)
    if hidden_dim < 0:
        raise ConfigError(f"{_KEY}.hidden_dim", f"must be >= 0 (0 = input size), got {hidden_dim}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"{_KEY}.dropout", f"must be in [0, 1), got {dropout}")
    if layers < 1:
        raise ConfigError(f"{_KEY}.layers", f"must be >= 1 (1 = a linear head), got {layers}")
    if norm not in MLP_NORMS:
        raise ConfigError(f"{_KEY}.norm", f"must be one of {', '.join(MLP_NORMS)}, got {norm!r}")
    hidden = hidden_dim or in_dim
    modules: list[nn.Module] = []
    width = in_dim
    for _ in range(layers - 1):
        modules += [
            nn.Linear(width, hidden),
            *_norm(norm, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
        ]
        width = hidden
    modules.append(nn.Linear(width, descriptor_dim))
    return Projection(nn.Sequential(*modules), descriptor_dim)


def _norm(kind: str, width: int) -> list[nn.Module]:
    """[] for none, else a BatchNorm1d or LayerNorm over `width` features."""
    return {"none": [], "bn": [nn.BatchNorm1d(width)], "ln": [nn.LayerNorm(width)]}[kind]


def _check_dim(descriptor_dim: int) -> None:
    if descriptor_dim < 1:
        raise ConfigError("model.descriptor_dim", f"must be a positive integer, got {descriptor_dim}")


def build_head(section: dict[str, Any], in_dim: int, descriptor_dim: int) -> nn.Module:
    """Build the head a resolved `model.head` section describes.

    Args:
        section: `{"name": ..., **params}`.
        in_dim: Size of the aggregator's descriptor.
        descriptor_dim: The requested final size (`model.descriptor_dim`); `none` ignores it.

    Returns:
        A module with `out_dim`, mapping B×in_dim -> B×out_dim.
    """
    params = preset_params(section)
    return HEADS.build(str(section["name"]), in_dim, descriptor_dim, **params)
