"""DINOv2 ViT backbones (timm): patch tokens as a B×C×(H/14)×(W/14) map, or the CLS token as B×C×1×1."""

from __future__ import annotations

import math
import re

import timm
import torch
from timm.models.vision_transformer import checkpoint_filter_fn
from torch import nn

from engine.core.errors import ConfigError
from engine.models.backbones import BACKBONES, create_timm_model
from engine.models.weights import LoadReport, StateDict, load_weights_file

_KEY = "model.backbone"
#: What the backbone returns: the patch-token map (for spatial aggregators) or the CLS token.
OUTPUTS = ("tokens", "cls")


class ViTBackbone(nn.Module):
    """A timm Vision Transformer whose tokens are handed on as a feature map.

    `forward_features` gives B×(P + h·w)×C tokens after the final norm, where P prefix tokens (CLS,
    registers) come first; P is read from the model (`num_prefix_tokens`), never assumed. With
    `output="tokens"` the prefix is dropped and the patch tokens are laid back on their grid,
    B×C×h×w with h = ceil(H / patch) (224 -> 16, 322 -> 23 for patch 14), so every spatial aggregator
    works. With `output="cls"` the CLS token comes out as a B×C×1×1 map for the `cls` aggregator
    (avg and max return it unchanged too; GeM would clamp its negative values to eps).

    The model is built for `image_size` (rounded up to whole patches, so the position embedding
    covers exactly the training grid) with `dynamic_img_size`: other resolutions, e.g. a separate
    eval size, get the position embedding interpolated on the fly and sides that are not a multiple
    of the patch are padded.

    Attributes:
        out_channels: Embedding width C.
        stride: Patch size in pixels.
        output: "tokens" or "cls".
        load_report: What matched when `pretrained` was a local file, else None.
    """

    def __init__(
        self,
        timm_name: str,
        pretrained: bool | str = False,
        output: str = "tokens",
        image_size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        if output not in OUTPUTS:
            raise ConfigError(f"{_KEY}.output", f"must be one of {', '.join(OUTPUTS)}, got {output!r}")
        self.timm_name = timm_name
        self.output = output
        self.vit = _create_vit(timm_name, pretrained is True, image_size)
        if output == "cls" and getattr(self.vit, "cls_token", None) is None:
            raise ConfigError(f"{_KEY}.output", f"{timm_name} has no CLS token; use output: tokens")
        self.load_report: LoadReport | None = None
        if isinstance(pretrained, str):
            self.load_report = load_vit_weights(self.vit, pretrained)
        self.out_channels = int(self.vit.embed_dim)
        self.stride = int(self.vit.patch_embed.patch_size[0])

    @property
    def num_prefix_tokens(self) -> int:
        """Tokens before the patches (1 CLS + registers), as the model counts them."""
        return int(self.vit.num_prefix_tokens)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×3×H×W images -> B×C×h×w patch-token map, or B×C×1×1 CLS token."""
        tokens = self.vit.forward_features(x)  # B×(P + h·w)×C
        if self.output == "cls":
            return tokens[:, 0, :, None, None]  # B×C×1×1
        h, w = self.vit.patch_embed.dynamic_feat_size(tuple(x.shape[-2:]))
        patches = tokens[:, self.num_prefix_tokens :]  # B×h·w×C, row-major over the grid
        return patches.transpose(1, 2).reshape(x.shape[0], -1, h, w)


def _create_vit(timm_name: str, download: bool, image_size: tuple[int, int] | None) -> nn.Module:
    """The timm ViT without classifier, for `image_size` (None = its pretraining size, 518 for DINOv2)."""
    if image_size is None:
        image_size = tuple(timm.models.get_pretrained_cfg(timm_name).input_size[-2:])
    patch = _patch_size(timm_name)
    grid_size = tuple(math.ceil(side / patch) * patch for side in image_size)
    return create_timm_model(
        timm_name, download, num_classes=0, img_size=grid_size, dynamic_img_size=True, dynamic_img_pad=True
    )


def _patch_size(timm_name: str) -> int:
    """Patch size from the model's name (`..._patch14_...`: timm's naming rule), 16 when it does not say.

    Needed before construction, to round the build size up to whole patches.
    """
    found = re.search(r"_patch(\d+)", timm_name)
    return int(found.group(1)) if found else 16


def load_vit_weights(vit: nn.Module, path: str) -> LoadReport:
    """Load a local ViT checkpoint: timm names or the original DINOv2 ones, any training prefix.

    After our prefix stripping, timm's own checkpoint filter converts the original DINOv2 layout
    (`register_tokens`, `mask_token`, a position embedding that includes the CLS slot) and resamples
    the position embedding from the checkpoint's grid (37×37 for 518 px) to the model's.
    """

    def convert(state: StateDict) -> StateDict:
        return checkpoint_filter_fn(state, vit)

    return load_weights_file(vit, path, convert=convert)


# torch.hub names -> timm names; the "_reg" variants carry 4 register tokens (5 prefix tokens in all).
@BACKBONES.register("dinov2_vits14")
def dinov2_vits14(
    pretrained: bool | str = False, output: str = "tokens", *, image_size: tuple[int, int] | None = None
) -> nn.Module:
    """DINOv2 ViT-S/14 (timm vit_small_patch14_dinov2): 384 channels at stride 14, 21.6M params."""
    return ViTBackbone("vit_small_patch14_dinov2", pretrained, output, image_size)


@BACKBONES.register("dinov2_vitb14")
def dinov2_vitb14(
    pretrained: bool | str = False, output: str = "tokens", *, image_size: tuple[int, int] | None = None
) -> nn.Module:
    """DINOv2 ViT-B/14 (timm vit_base_patch14_dinov2): 768 channels at stride 14, 85.7M params."""
    return ViTBackbone("vit_base_patch14_dinov2", pretrained, output, image_size)


@BACKBONES.register("dinov2_vitl14")
def dinov2_vitl14(
    pretrained: bool | str = False, output: str = "tokens", *, image_size: tuple[int, int] | None = None
) -> nn.Module:
    """DINOv2 ViT-L/14 (timm vit_large_patch14_dinov2): 1024 channels at stride 14, 303M params."""
    return ViTBackbone("vit_large_patch14_dinov2", pretrained, output, image_size)


@BACKBONES.register("dinov2_vits14_reg")
def dinov2_vits14_reg(
    pretrained: bool | str = False, output: str = "tokens", *, image_size: tuple[int, int] | None = None
) -> nn.Module:
    """DINOv2 ViT-S/14 with 4 registers (timm vit_small_patch14_reg4_dinov2): 384 channels at stride 14."""
    return ViTBackbone("vit_small_patch14_reg4_dinov2", pretrained, output, image_size)


@BACKBONES.register("dinov2_vitb14_reg")
def dinov2_vitb14_reg(
    pretrained: bool | str = False, output: str = "tokens", *, image_size: tuple[int, int] | None = None
) -> nn.Module:
    """DINOv2 ViT-B/14 with 4 registers (timm vit_base_patch14_reg4_dinov2): 768 channels at stride 14."""
    return ViTBackbone("vit_base_patch14_reg4_dinov2", pretrained, output, image_size)


@BACKBONES.register("dinov2_vitl14_reg")
def dinov2_vitl14_reg(
    pretrained: bool | str = False, output: str = "tokens", *, image_size: tuple[int, int] | None = None
) -> nn.Module:
    """DINOv2 ViT-L/14 with 4 registers (timm vit_large_patch14_reg4_dinov2): 1024 channels at stride 14."""
    return ViTBackbone("vit_large_patch14_reg4_dinov2", pretrained, output, image_size)
