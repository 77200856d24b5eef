"""The `pce` backbone: stages of positional convolution experts, with routing hooks for logging, evaluation
diagnostics, figures and mid-run steering."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from engine.core.errors import ConfigError, UserError, unknown_choice
from engine.figures.figure import Figure
from engine.models.backbones import BACKBONES
from engine.models.pce.diagnostics import RoutingRecorder, entropy_bits, load_balance, utilisation
from engine.models.pce.figures import render_position_heatmap, render_routing_map
from engine.models.pce.patches import patch_grid
from engine.models.pce.routers import KEY_UPDATES, ROUTERS
from engine.models.pce.stage import PCEStage, conv_bn_relu
from engine.models.weights import LoadReport, load_weights_file

_KEY = "model.backbone"
SWITCHES = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}
FIGURE_SAMPLES = 3  # images in the routing map: three rows keep it wide enough to read at 80×24
StageHook = Callable[[int, PCEStage, torch.Tensor, tuple[int, int]], None]


class PCEBackbone(nn.Module):
    """Positional Convolution Experts (log 002): B×3×H×W -> B×C×h×w.

    The image is cut into a gh×gw grid of patches of `patch_size` pixels; the same grid is kept at every
    stage (patches shrink with the map), so a patch position means the same image region at every stage and
    routes can be followed across stages. Stage s (see `PCEStage`) halves the map first when s > 0, so the
    stages form a pyramid and the output stride is 2^(stages-1); an optional stride-2 `stem` conv ahead of
    the stages doubles it and makes every stage 4× cheaper.

    Attributes:
        out_channels: Width of the last stage.
        stride: Input pixels per output cell.
        stem: The stride-2 conv before the stages, or None (freeze path `backbone.stem`).
        stages: The stages, addressed by freeze presets as `backbone.stages.0` …
        router_name, top_k, attention: the routing settings in force (steerable, see `set_option`).
        active_experts: n booleans, False for an expert switched off.
    """

    dynamic_graph = True
    """The router in use (steerable mid-run) leaves the others without gradients: DDP must look for unused
    parameters each step instead of fixing them once."""

    def __init__(
        self,
        widths: Sequence[int] = (32, 64, 128),
        patch_size: tuple[int, int] = (8, 8),
        num_experts: int = 4,
        kernel_size: int = 3,
        router: str = "positional",
        top_k: int = 0,
        attention: bool = False,
        in_channels: int = 3,
        router_options: dict[str, Any] | None = None,
        stem_channels: int = 0,
        expert_context: str = "patch",
    ) -> None:
        super().__init__()
        # An optional stride-2 conv before the experts: every stage then works on a map 4× smaller.
        self.stem = conv_bn_relu(in_channels, stem_channels, 3, 2) if stem_channels else None
        channels = [stem_channels or in_channels, *widths]
        self.stages = nn.ModuleList(
            PCEStage(
                channels[i],
                channels[i + 1],
                num_experts,
                kernel_size,
                i > 0,
                router_options or {},
                expert_context,
            )
            for i in range(len(widths))
        )
        self.out_channels = int(widths[-1])
        self.stride = 2 ** (len(widths) - 1) * (2 if self.stem is not None else 1)
        self.patch_size = (int(patch_size[0]), int(patch_size[1]))
        self.num_experts = num_experts
        self.router_name = router
        self.top_k = top_k
        self.attention = attention
        # A buffer so it follows the model to its device; not persistent: steering state, not weights.
        self.active_experts: torch.Tensor
        self.register_buffer("active_experts", torch.ones(num_experts, dtype=torch.bool), persistent=False)
        # saved with the weights: a resumed run keeps its trained keys instead of redoing k-means
        self.register_buffer("keys_initialised", torch.zeros((), dtype=torch.bool))
        self.load_report: LoadReport | None = None
        self._last: list[torch.Tensor] = []
        self._recorder: RoutingRecorder | None = None
        self._recorded: RoutingRecorder | None = None

    def _run(
        self, x: torch.Tensor, before_stage: StageHook | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor], tuple[int, int]]:
        """(output map, per stage B×P×n routing weights, the patch grid); `before_stage(index, stage, input,
        grid)` is called ahead of each stage."""
        grid = patch_grid(x.shape[2], x.shape[3], self.patch_size)
        if self.stem is not None:
            x = self.stem(x)
        router = ROUTERS.get(self.router_name).factory
        weights = []
        for index, stage in enumerate(self.stages):
            assert isinstance(stage, PCEStage)
            if before_stage is not None:
                before_stage(index, stage, x, grid)
            x, stage_weights = stage(x, grid, router, self.active_experts, self.top_k, self.attention)
            weights.append(stage_weights)
        return x, weights, grid

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """B×3×H×W -> B×C×ceil(H/stride)×ceil(W/stride); remembers the routing for `auxiliary()`."""
        x, weights, grid = self._run(images)
        self._last = weights
        if self._recorder is not None:
            self._recorder.add(images, grid, weights)
        return x

    # ---- hooks: per-step auxiliary losses and scalars --------------------------------------------------
    def auxiliary(self) -> dict[str, dict[str, torch.Tensor]]:
        """About the last forward (call it before backward: the load-balance loss keeps the graph):
        losses {"load_balance"} (mean over stages of n·Σ f_i·P_i) and scalars routing/entropy (bits, mean
        over stages), routing/entropy_s<k>, routing/util_s<k>_e<i> (share of patches choosing expert i)."""
        if not self._last:
            return {"losses": {}, "scalars": {}}
        balance = torch.stack([load_balance(w) for w in self._last]).mean()
        scalars: dict[str, torch.Tensor] = {}
        entropies = []
        for stage, weights in enumerate(self._last):
            weights = weights.detach()
            entropies.append(entropy_bits(weights))
            scalars[f"routing/entropy_s{stage}"] = entropies[-1]
            shares = utilisation(weights.argmax(dim=2), self.num_experts)
            for expert, share in enumerate(shares.unbind()):
                scalars[f"routing/util_s{stage}_e{expert}"] = share
        scalars["routing/entropy"] = torch.stack(entropies).mean()
        return {"losses": {"load_balance": balance}, "scalars": scalars}

    # ---- hooks: evaluation diagnostics and figures -----------------------------------------------------
    def begin_evaluation(self, samples: int = FIGURE_SAMPLES) -> None:
        """Start recording the routing of every forward: small counts, and the maps of `samples` images
        spread over the evaluated set for the routing-map figure."""
        self._recorder = RoutingRecorder(len(self.stages), self.num_experts, samples)

    def end_evaluation(self) -> dict[str, float]:
        """Stop recording; routing/… diagnostics over everything evaluated since `begin_evaluation`."""
        recorder, self._recorder = self._recorder, None
        self._recorded = recorder
        return recorder.summary() if recorder is not None else {}

    def evaluation_figures(self, split: str) -> list[Figure]:
        """The routing map and the patch-position × expert heat map of the last finished evaluation."""
        recorded = self._recorded
        if recorded is None or recorded.position_counts is None or recorded.grid is None:
            return []
        return [
            render_routing_map(split, recorded.kept, self.num_experts),
            render_position_heatmap(split, recorded.position_counts.cpu().numpy(), recorded.grid),
        ]

    # ---- hooks: data-dependent initialisation ---------------------------------------------------------
    def prepare(self, sample_images: torch.Tensor) -> None:
        """Data-dependent initialisation before training: the routers' keys by k-means (seed 0); once per run
        (a resume restores them with the weights)."""
        if bool(self.keys_initialised):
            return
        self.init_keys(sample_images, seed=0)
        self.keys_initialised.fill_(True)

    @torch.no_grad()
    def init_keys(self, sample_images: torch.Tensor, seed: int) -> None:
        """k-means keys for every stage from the embeddings of `sample_images`' patches at that stage (the
        sample runs through the stages in eval mode, so BatchNorm statistics do not move)."""
        training = self.training
        self.eval()
        device = next(self.parameters()).device

        def init_stage(index: int, stage: PCEStage, x: torch.Tensor, grid: tuple[int, int]) -> None:
            _, patches = stage.enriched_patches(x, grid, self.attention)
            stage.router.init_keys(patches, seed + index)

        try:
            self._run(sample_images.to(device), init_stage)
        finally:
            self.train(training)

    # ---- hooks: mid-run steering -----------------------------------------------------------------------
    def steerable_keys(self) -> list[str]:
        """Keys `set_option` accepts."""
        keys = ["router", "noise_sigma", "gumbel_tau", "temperature", "top_k"]
        keys += ["attention"] if len(self.stages) > 1 else []
        return keys + [f"expert.{i}" for i in range(self.num_experts)]

    def set_option(self, key: str, value: Any) -> tuple[Any, Callable[[], None]]:
        """Validate a steering change now, apply it when the returned commit() is called.

        Returns:
            (the value as it will be shown, commit).

        Raises:
            KeyError: for a key not in `steerable_keys()`.
            ValueError: for a value the key does not allow (the message lists what is allowed).
        """
        if key == "router":
            name = str(value)
            if name not in ROUTERS:
                raise ValueError(unknown_choice("router", name, ROUTERS.names()))
            return name, lambda: setattr(self, "router_name", name)
        if key in ("noise_sigma", "gumbel_tau", "temperature"):
            number = _number(key, value, allow_zero=key == "noise_sigma")
            return number, lambda: self._set_router_option(key, number)
        if key == "top_k":
            count = _integer(key, value, 0, self.num_experts)
            return count, lambda: setattr(self, "top_k", count)
        if key == "attention" and len(self.stages) > 1:
            flag = _switch(key, value)
            return ("on" if flag else "off"), lambda: setattr(self, "attention", flag)
        if key.startswith("expert.") and key in self.steerable_keys():
            return self._expert_switch(int(key.split(".", 1)[1]), _switch(key, value))
        raise KeyError(f"unknown pce option '{key}'; allowed: {', '.join(self.steerable_keys())}")

    def _set_router_option(self, key: str, value: float) -> None:
        for stage in self.stages:
            setattr(stage.router, key, value)

    def _expert_switch(self, expert: int, on: bool) -> tuple[str, Callable[[], None]]:
        active = self.active_experts.clone()
        active[expert] = on
        if not bool(active.any()):
            raise ValueError(f"expert.{expert}=off would switch off every expert; keep at least one on")

        def commit() -> None:
            self.active_experts.copy_(active)

        return ("on" if on else "off"), commit


def _number(key: str, value: Any, allow_zero: bool) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number >= 0 or (number == 0 and not allow_zero) or number == float("inf"):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ValueError(f"{key} must be a number {bound}, got {value!r}")
    return number


def _integer(key: str, value: Any, low: int, high: int) -> int:
    try:
        count = int(str(value))
    except ValueError:
        count = low - 1
    if not low <= count <= high:
        raise ValueError(f"{key} must be an integer from {low} to {high} (0 = all experts), got {value!r}")
    return count


def _switch(key: str, value: Any) -> bool:
    word = str(value).strip().lower()
    if word not in SWITCHES:
        raise ValueError(f"{key} must be on or off, got {value!r}")
    return SWITCHES[word]


#: What an expert convolves: its patch alone (zero padding at the patch's borders, log 002 to the letter) or the
#: whole map (the same per-patch routing; border pixels see the neighbouring patch).
EXPERT_CONTEXTS = ("patch", "image")


@BACKBONES.register("pce", "Positional Convolution Experts (log 002): routed conv experts over patches")
def pce(
    widths: Sequence[int] = [32, 64, 128],  # never mutated; the preset lists the same values
    patch_size: int | Sequence[int] = 16,
    num_experts: int = 4,
    kernel_size: int = 3,
    router: str = "positional",
    top_k: int = 0,
    attention: bool = False,
    noise_sigma: float = 0.1,
    gumbel_tau: float = 1.0,
    temperature: float = 0.1,
    key_update: str = "ema",
    ema_alpha: float = 0.99,
    embed_channels: int = 8,
    attention_dim: int = 32,
    mlp_hidden: int = 64,
    stem_channels: int = 16,
    expert_context: str = "image",
    pretrained: bool | str = False,
    channels_last: bool = False,
) -> nn.Module:
    """Positional Convolution Experts: stages of k×k conv experts routed per patch, stride 2^(stages-1)."""
    widths = _positive_list("widths", widths)
    patch = _positive_list("patch_size", [patch_size] * 2 if isinstance(patch_size, int) else patch_size)
    if len(patch) != 2:
        raise ConfigError(f"{_KEY}.patch_size", f"must be one integer or [height, width], got {patch_size!r}")
    for name, value in (("num_experts", num_experts), ("embed_channels", embed_channels)):
        _positive_list(name, [value])
    for name, value in (("attention_dim", attention_dim), ("mlp_hidden", mlp_hidden)):
        _positive_list(name, [value])
    if not isinstance(stem_channels, int) or isinstance(stem_channels, bool) or stem_channels < 0:
        raise ConfigError(
            f"{_KEY}.stem_channels", f"must be 0 (no stem) or a positive integer, got {stem_channels!r}"
        )
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ConfigError(f"{_KEY}.kernel_size", f"must be an odd positive integer, got {kernel_size!r}")
    if router not in ROUTERS:
        raise ConfigError(f"{_KEY}.router", unknown_choice("router", str(router), ROUTERS.names()))
    if key_update not in KEY_UPDATES:
        raise ConfigError(f"{_KEY}.key_update", unknown_choice("key update", str(key_update), KEY_UPDATES))
    if not isinstance(top_k, int) or not 0 <= top_k <= num_experts:
        raise ConfigError(
            f"{_KEY}.top_k", f"must be 0 (all experts) up to num_experts={num_experts}, got {top_k!r}"
        )
    if not 0 <= ema_alpha <= 1:
        raise ConfigError(f"{_KEY}.ema_alpha", f"must be in [0, 1], got {ema_alpha!r}")
    positive: tuple[tuple[str, float, bool], ...] = (
        ("noise_sigma", noise_sigma, True),
        ("gumbel_tau", gumbel_tau, False),
        ("temperature", temperature, False),
    )
    for name, setting, allow_zero in positive:
        try:
            _number(name, setting, allow_zero)
        except ValueError as exc:
            raise ConfigError(f"{_KEY}.{name}", str(exc)) from None
    if expert_context not in EXPERT_CONTEXTS:
        raise ConfigError(
            f"{_KEY}.expert_context", unknown_choice("expert context", str(expert_context), EXPERT_CONTEXTS)
        )
    if pretrained is True:
        raise UserError(f"pce has no downloadable weights; set {_KEY}.pretrained to a local file or false")
    model = PCEBackbone(
        widths,
        (patch[0], patch[1]),
        num_experts,
        kernel_size,
        router,
        top_k,
        bool(attention),
        router_options=dict(
            embed_channels=embed_channels,
            attention_dim=attention_dim,
            mlp_hidden=mlp_hidden,
            temperature=float(temperature),
            key_update=key_update,
            ema_alpha=float(ema_alpha),
            noise_sigma=float(noise_sigma),
            gumbel_tau=float(gumbel_tau),
        ),
        stem_channels=stem_channels,
        expert_context=expert_context,
    )
    if isinstance(pretrained, str) and pretrained:
        model.load_report = load_weights_file(model, pretrained)
    return model


def _positive_list(name: str, values: Any) -> list[int]:
    if not isinstance(values, (list, tuple)) or not values:
        raise ConfigError(f"{_KEY}.{name}", f"must be a non-empty list of positive integers, got {values!r}")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise ConfigError(f"{_KEY}.{name}", f"must be positive integers, got {values!r}")
    return [int(v) for v in values]
