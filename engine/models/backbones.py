"""Backbone registry and the one timm wrapper: images B×3×H×W -> features B×C×h×w (out_channels, stride)."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
from collections.abc import Iterator
from typing import Any

import timm
import torch
from torch import nn

from engine.core.config.presets import preset_params
from engine.core.config.user_classes import is_user_class, split_user_class
from engine.core.errors import ConfigError, UserError, did_you_mean
from engine.core.registry import Registry
from engine.models.weights import LoadReport, load_weights_file

BACKBONES = Registry("backbone", "model.backbone.name")
_KEY = "model.backbone"
# Keys the config resolver keeps for display; they are not factory parameters.


class TimmBackbone(nn.Module):
    """A timm model cut before its pooling and classifier, via `features_only` (last stage only).

    Channels and stride are read from timm's `feature_info`, so anything downstream sizes itself.
    `output_stride` 16 or 8 asks timm to replace the last strides by dilation (DeepLab's dilated
    backbones: same weights, denser maps); 32 leaves the model as published. Models with a fixed input size (Swin, ViTs outside the registry) are built for `image_size`; timm
    resamples their position embeddings when it loads weights trained at another size. Models whose
    features come channels-last as tensors (Swin: B×h×w×C) are permuted back to B×C×h×w.

    Attributes:
        out_channels: Channels C of the output feature map.
        stride: Input pixels per feature-map cell (H / h).
        load_report: What matched when `pretrained` was a local file, else None.
    """

    def __init__(
        self,
        name: str,
        pretrained: bool | str | None = False,
        channels_last: bool = False,
        output_stride: int = 32,
        *,
        image_size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.timm_name = name
        self.load_report: LoadReport | None = None
        kwargs = _size_kwargs(name, image_size) | _stride_kwargs(name, output_stride)
        if isinstance(pretrained, str):
            self.body, self.load_report = _timm_features_from_file(name, pretrained, kwargs)
        else:
            self.body = _timm_features(name, bool(pretrained), **kwargs)
        self.out_channels = int(self.body.feature_info.channels()[-1])
        self.stride = int(self.body.feature_info.reduction()[-1])
        if output_stride != 32 and self.stride != output_stride:
            raise ConfigError(
                f"{_KEY}.output_stride", _not_dilatable(name, f"timm built stride {self.stride}")
            )
        self.nhwc = str(getattr(self.body, "output_fmt", "NCHW")).endswith("NHWC")
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×3×H×W images -> B×C×h×w features of the last stage."""
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        features = self.body(x)[-1]
        return features.permute(0, 3, 1, 2) if self.nhwc else features  # B×h×w×C -> B×C×h×w


def _size_kwargs(name: str, image_size: tuple[int, int] | None) -> dict[str, Any]:
    """`{"img_size": (H, W)}` for models whose input size is fixed at construction, else nothing."""
    cfg = timm.models.get_pretrained_cfg(name)
    return {"img_size": tuple(image_size)} if image_size and cfg and cfg.fixed_input_size else {}


#: model.backbone.output_stride values: 32 = the model as published, 16 and 8 = its last strides dilated.
OUTPUT_STRIDES = (32, 16, 8)


def _stride_kwargs(name: str, output_stride: int) -> dict[str, Any]:
    """`{"output_stride": 16|8}` for timm (dilated last stages), nothing for 32 (the model unchanged)."""
    if isinstance(output_stride, bool) or output_stride not in OUTPUT_STRIDES:
        raise ConfigError(
            f"{_KEY}.output_stride",
            f"must be 32 (unchanged), 16 or 8 (last stages dilated), got {output_stride!r}",
        )
    return {"output_stride": output_stride} if output_stride != 32 else {}


def _not_dilatable(name: str, why: str) -> str:
    return (
        f"{name} cannot be dilated ({why}); allowed: 32 for it, 16 or 8 only for CNNs "
        "(resnet*, resnext*, resnest*, convnext*, efficientnet*, mobilenetv3*, plain_cnn)"
    )


def create_timm_model(name: str, download: bool, **kwargs: Any) -> nn.Module:
    """timm.create_model with its failures turned into one-line user errors instead of tracebacks.

    Args:
        name: A timm model name.
        download: Fetch timm's pretrained weights (from the hub or its cache).
        **kwargs: Passed to timm.create_model (features_only, img_size, pretrained_cfg_overlay, ...).

    Raises:
        UserError: when the download fails (offline, no such weights), naming the key to change.
        ConfigError: when timm cannot build the model as asked.
    """
    try:
        return timm.create_model(name, pretrained=download, **kwargs)
    except Exception as exc:  # hub/network/"no weights"/"no feature support" errors come in many types
        if isinstance(exc, TypeError) and "output_stride" in str(exc):  # ViTs, Swin: no dilated variant
            raise ConfigError(
                f"{_KEY}.output_stride", _not_dilatable(name, "no output_stride in timm")
            ) from None
        reason = f"{type(exc).__name__}: {_first_line(exc)}"
        if download and "pretrained_cfg_overlay" not in kwargs:
            raise UserError(
                f"could not download pretrained weights for {name}: {reason}; "
                f"set {_KEY}.pretrained to a local file or false"
            ) from None
        raise ConfigError(f"{_KEY}.name", f"timm could not build {name}: {reason}") from None


def _timm_features(
    name: str, download: bool, state_dict: dict[str, torch.Tensor] | None = None, **kwargs: Any
) -> nn.Module:
    """The last stage of a timm model via features_only, with weights from the hub or `state_dict`."""
    if state_dict is not None:
        kwargs["pretrained_cfg_overlay"] = dict(state_dict=state_dict)
    return create_timm_model(
        name, download or state_dict is not None, features_only=True, out_indices=(-1,), **kwargs
    )


def _timm_features_from_file(name: str, path: str, build: dict[str, Any]) -> tuple[nn.Module, LoadReport]:
    """Load a local file into the full timm model at its default size, then let timm cut it to features.

    The full model is the target because checkpoints use its names; features_only wrappers rename
    modules for some families (convnext `stages_0`, ViT `model.`), so loading there would miss keys.
    Its default input size is the checkpoint's, and timm's own loader then adapts it to the `build` keywords
    (input size, output stride: dilation changes no weight shape).
    """
    full = create_timm_model(name, False)
    report = load_weights_file(full, path, ignore=classifier_prefixes(full))
    # timm reports the dropped head as "unexpected keys"; our own report already said what matters.
    with _quiet("timm.models._builder"):
        body = _timm_features(name, False, state_dict=full.state_dict(), **build)
    return body, report


def classifier_prefixes(model: nn.Module) -> tuple[str, ...]:
    """Name prefixes of a timm model's classifier ('fc.', 'head.fc.'): the backbone drops it."""
    classifier = getattr(model, "pretrained_cfg", {}).get("classifier") or ()
    return tuple(f"{c}." for c in ((classifier,) if isinstance(classifier, str) else classifier))


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Raise a logger's level to ERROR for the duration of the block."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


# One entry per architecture the experiment logs use; sizes are those of the features_only body (at
# output_stride 32: 16 or 8 dilate the last stages, same channels and weights).
@BACKBONES.register("resnet18")
def resnet18(
    pretrained: bool | str = False, channels_last: bool = False, output_stride: int = 32
) -> nn.Module:
    """ResNet-18 (timm): 512 channels at stride 32, 11.2M params."""
    return TimmBackbone("resnet18", pretrained, channels_last, output_stride)


@BACKBONES.register("resnet50")
def resnet50(
    pretrained: bool | str = False, channels_last: bool = False, output_stride: int = 32
) -> nn.Module:
    """ResNet-50 (timm): 2048 channels at stride 32, 23.5M params."""
    return TimmBackbone("resnet50", pretrained, channels_last, output_stride)


@BACKBONES.register("resnet101")
def resnet101(
    pretrained: bool | str = False, channels_last: bool = False, output_stride: int = 32
) -> nn.Module:
    """ResNet-101 (timm): 2048 channels at stride 32, 42.5M params."""
    return TimmBackbone("resnet101", pretrained, channels_last, output_stride)


@BACKBONES.register("resnext50_32x4d")
def resnext50_32x4d(
    pretrained: bool | str = False, channels_last: bool = False, output_stride: int = 32
) -> nn.Module:
    """ResNeXt-50 32×4d (timm): 2048 channels at stride 32, 23.0M params."""
    return TimmBackbone("resnext50_32x4d", pretrained, channels_last, output_stride)


@BACKBONES.register("resnest50d")
def resnest50d(
    pretrained: bool | str = False, channels_last: bool = False, output_stride: int = 32
) -> nn.Module:
    """ResNeSt-50d split-attention (timm): 2048 channels at stride 32, 25.4M params."""
    return TimmBackbone("resnest50d", pretrained, channels_last, output_stride)


@BACKBONES.register("convnext_tiny")
def convnext_tiny(
    pretrained: bool | str = False, channels_last: bool = False, output_stride: int = 32
) -> nn.Module:
    """ConvNeXt-Tiny (timm): 768 channels at stride 32, 27.8M params."""
    return TimmBackbone("convnext_tiny", pretrained, channels_last, output_stride)


@BACKBONES.register("efficientnet_b0")
def efficientnet_b0(
    pretrained: bool | str = False, channels_last: bool = False, output_stride: int = 32
) -> nn.Module:
    """EfficientNet-B0 (timm), last block before conv_head: 320 channels at stride 32, 3.6M params."""
    return TimmBackbone("efficientnet_b0", pretrained, channels_last, output_stride)


@BACKBONES.register("efficientnet_b1")
def efficientnet_b1(
    pretrained: bool | str = False, channels_last: bool = False, output_stride: int = 32
) -> nn.Module:
    """EfficientNet-B1 (timm), last block before conv_head: 320 channels at stride 32, 6.1M params."""
    return TimmBackbone("efficientnet_b1", pretrained, channels_last, output_stride)


@BACKBONES.register("efficientnet_b2")
def efficientnet_b2(
    pretrained: bool | str = False, channels_last: bool = False, output_stride: int = 32
) -> nn.Module:
    """EfficientNet-B2 (timm), last block before conv_head: 352 channels at stride 32, 7.2M params."""
    return TimmBackbone("efficientnet_b2", pretrained, channels_last, output_stride)


@BACKBONES.register("efficientnetv2_s")
def efficientnetv2_s(
    pretrained: bool | str = False, channels_last: bool = False, output_stride: int = 32
) -> nn.Module:
    """EfficientNetV2-S, the paper's (timm tf_efficientnetv2_s): 256 channels at stride 32, 19.8M params."""
    return TimmBackbone("tf_efficientnetv2_s", pretrained, channels_last, output_stride)


@BACKBONES.register("mobilenetv3_small")
def mobilenetv3_small(
    pretrained: bool | str = False, channels_last: bool = False, output_stride: int = 32
) -> nn.Module:
    """MobileNetV3-Small 1.0 (timm mobilenetv3_small_100): 576 channels at stride 32, 0.9M params."""
    return TimmBackbone("mobilenetv3_small_100", pretrained, channels_last, output_stride)


@BACKBONES.register("mobilenetv3_large")
def mobilenetv3_large(
    pretrained: bool | str = False, channels_last: bool = False, output_stride: int = 32
) -> nn.Module:
    """MobileNetV3-Large 1.0 (timm mobilenetv3_large_100): 960 channels at stride 32, 3.0M params."""
    return TimmBackbone("mobilenetv3_large_100", pretrained, channels_last, output_stride)


@BACKBONES.register("swin_tiny")
def swin_tiny(
    pretrained: bool | str = False,
    channels_last: bool = False,
    output_stride: int = 32,
    *,
    image_size: tuple[int, int] | None = None,
) -> nn.Module:
    """Swin-T (timm swin_tiny_patch4_window7_224) for model.image_size: 768 channels at stride 32."""
    return TimmBackbone(
        "swin_tiny_patch4_window7_224", pretrained, channels_last, output_stride, image_size=image_size
    )


def build_backbone(section: dict[str, Any], image_size: tuple[int, int] | None = None) -> nn.Module:
    """Build the backbone a resolved `model.backbone` section describes.

    Args:
        section: `{"name": ..., "pretrained": false | true | "path", "channels_last": bool,
            "output_stride": 32 | 16 | 8, **params}`;
            `name` is a registry entry, any timm model name (built with `TimmBackbone`), or a user class
            `module.path:ClassName` (see `build_user_backbone`).
        image_size: (H, W) from `model.image_size`, for models whose input size is fixed at
            construction; registry factories get it when they declare an `image_size` keyword.

    Returns:
        A module with `out_channels` and `stride`, mapping B×3×H×W -> B×C×h×w.

    Raises:
        ConfigError: for a name that is neither registered nor known to timm, or a user class that cannot be
            imported, built, or does not follow the backbone contract.
    """
    params = preset_params(section)
    name = str(section["name"])
    if is_user_class(name):
        return build_user_backbone(name, params)
    if "pretrained" in params:
        params["pretrained"] = _pretrained_value(params["pretrained"])
    if name in BACKBONES:
        factory = BACKBONES.get(name).factory
        if "image_size" in inspect.signature(factory).parameters:
            params["image_size"] = image_size
        return factory(**params)
    if timm.is_model(name):
        return TimmBackbone(name, **params, image_size=image_size)
    raise ConfigError(f"{_KEY}.name", _unknown_message(name))


def _pretrained_value(value: Any) -> bool | str:
    """false/null -> False, true -> True (download), anything else -> a local file path."""
    if value is None or isinstance(value, bool):
        return bool(value)
    return str(value)


def _unknown_message(name: str) -> str:
    """'unknown backbone ...' listing registry names; the suggestion also searches timm's catalogue."""
    registered = BACKBONES.names()
    hint = did_you_mean(name, registered) or did_you_mean(name, timm.list_models())
    return f"unknown backbone '{name}'{hint}; allowed: {', '.join(registered)} or any timm model name"


CHECK_SIZE = 64
"""Side of the zero image a user backbone's forward is checked on."""


def build_user_backbone(name: str, params: dict[str, Any]) -> nn.Module:
    """A user's backbone class `module.path:ClassName`, built with the section's other keys as keyword arguments.

    The module is imported as Python imports it (the run's folder and PYTHONPATH). The contract: an
    nn.Module with int attributes `out_channels` and `stride`, whose forward maps B×3×H×W images to
    B×out_channels×H/stride×W/stride features; a 1×3×64×64 zero image is run through it to check that.

    Raises:
        ConfigError: at model.backbone.name when the module or class is missing, the class cannot be built
            with the given keys, or the built module breaks the contract.
    """
    key = f"{_KEY}.name"
    module_name, class_name = split_user_class(key, name)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ConfigError(
                key,
                f"no module '{module_name}' to import {class_name} from: put it in the folder the run starts "
                "from or on PYTHONPATH",
            ) from None
        raise ConfigError(key, f"importing {module_name} failed: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # the user's module raised while importing: say so in one line
        raise ConfigError(
            key, f"importing {module_name} failed: {type(exc).__name__}: {_first_line(exc)}"
        ) from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ConfigError(key, f"module {module_name} has no '{class_name}'")
    try:
        backbone = cls(**params)
    except Exception as exc:
        given = ", ".join(params) or "none"
        raise ConfigError(
            key, f"{name}(...) failed with keys {given}: {type(exc).__name__}: {_first_line(exc)}"
        ) from None
    check_backbone_contract(name, backbone)
    return backbone


def check_backbone_contract(name: str, backbone: Any) -> None:
    """An nn.Module with int `out_channels` and `stride` mapping a 1×3×64×64 zero image to 1×C×64/s×64/s."""
    key = f"{_KEY}.name"
    contract = "a backbone is an nn.Module with int attributes out_channels and stride, B×3×H×W -> B×C×h×w"
    if not isinstance(backbone, nn.Module):
        raise ConfigError(key, f"{name} built a {type(backbone).__name__}, not an nn.Module; {contract}")
    missing = [
        a
        for a in ("out_channels", "stride")
        if not isinstance(getattr(backbone, a, None), int) or isinstance(getattr(backbone, a), bool)
    ]
    if missing:
        raise ConfigError(key, f"{name} has no int attribute {' or '.join(missing)}; {contract}")
    channels, stride = backbone.out_channels, backbone.stride
    side = CHECK_SIZE // stride if stride > 0 else 0
    expected = (1, channels, side, side)
    was_training = backbone.training
    backbone.eval()  # BatchNorm's running statistics stay as built
    try:
        with torch.no_grad():
            out = backbone(torch.zeros(1, 3, CHECK_SIZE, CHECK_SIZE))
    except Exception as exc:
        raise ConfigError(
            key,
            f"{name} failed on a 1×3×{CHECK_SIZE}×{CHECK_SIZE} image: {type(exc).__name__}: {_first_line(exc)}",
        ) from None
    finally:
        backbone.train(was_training)
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else None
    if shape != expected:
        got = "×".join(map(str, shape)) if shape else type(out).__name__
        raise ConfigError(
            key,
            f"{name} maps a 1×3×{CHECK_SIZE}×{CHECK_SIZE} image to {got}, but its out_channels {channels} and "
            f"stride {stride} promise {'×'.join(map(str, expected))}",
        )
