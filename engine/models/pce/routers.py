"""Routers: per patch, a probability over the experts. One function per router in `ROUTERS`; the learnable
parts of all of them live in one `RouterBank` per stage, so the router can be switched mid-run without
building anything (the optimizer already holds every parameter)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

from engine.core.registry import Registry
from engine.models.pce.keys import assigned_means, ema_update, kmeans

ROUTERS = Registry("router", "model.backbone.router")
#: Spatial pyramid pooling levels of the patch embedding: D = embed_channels · (1 + 4 + 16).
SPP_LEVELS = (1, 2, 4)
KEY_UPDATES = ("ema", "learned")


@dataclass
class RoutingInput:
    """What a router sees: the CoordConv-enriched patches of B images on a gh×gw grid."""

    patches: torch.Tensor
    """(B·gh·gw)×(C+4)×ph×pw, row-major per image."""
    batch: int
    grid: tuple[int, int]


class RouterBank(nn.Module):
    """Every router's parameters for one stage, and the settings they read.

    - `embed` (1×1 conv) + SPP at levels 1, 2, 4: the patch embedding Em_p of the cosine, Gumbel and
      key-attention routers.
    - `keys` (n×D): cosine/Gumbel keys, k-means initialised; with key_update "ema" they move by
      k ← α·k + (1−α)·v outside the graph, with "learned" they train as parameters.
    - `query` + `attention_keys`: key attention, scaled dot product of a projected embedding with n keys.
    - `mlp`: the MLP router over the CoordConv-enriched patch (pooled to 2×2).
    """

    def __init__(
        self,
        in_channels: int,
        num_experts: int,
        *,
        embed_channels: int = 8,
        attention_dim: int = 32,
        mlp_hidden: int = 64,
        temperature: float = 0.1,
        key_update: str = "ema",
        ema_alpha: float = 0.99,
        noise_sigma: float = 0.1,
        gumbel_tau: float = 1.0,
    ) -> None:
        super().__init__()
        self.num_experts = num_experts
        self.embed = nn.Conv2d(in_channels, embed_channels, 1)
        dim = embed_channels * sum(level * level for level in SPP_LEVELS)
        self.keys = nn.Parameter(F.normalize(torch.randn(num_experts, dim), dim=1))
        self.query = nn.Linear(dim, attention_dim)
        self.attention_keys = nn.Parameter(torch.randn(num_experts, attention_dim) / math.sqrt(attention_dim))
        self.mlp = nn.Sequential(
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(in_channels * 4, mlp_hidden),
            nn.ReLU(inplace=True),
            nn.Linear(mlp_hidden, num_experts),
        )
        self.temperature = temperature
        self.key_update = key_update
        self.ema_alpha = ema_alpha
        self.noise_sigma = noise_sigma
        self.gumbel_tau = gumbel_tau

    def embedding(self, patches: torch.Tensor) -> torch.Tensor:
        """N×(C+4)×ph×pw -> N×D patch embeddings (1×1 conv, then SPP at levels 1, 2, 4)."""
        mapped = self.embed(patches)
        pooled = [F.adaptive_avg_pool2d(mapped, level).flatten(1) for level in SPP_LEVELS]
        return torch.cat(pooled, dim=1)

    def cosine_logits(self, patches: torch.Tensor) -> torch.Tensor:
        """N×n cosine similarities between embeddings and keys, divided by the temperature; with EMA keys,
        a training call also moves each key towards the mean embedding of the patches it won."""
        embedding = self.embedding(patches)
        keys = self.keys.detach() if self.key_update == "ema" else self.keys
        cosine = F.normalize(embedding, dim=1) @ F.normalize(keys, dim=1).T
        if self.training and self.key_update == "ema":
            unit = F.normalize(embedding.detach(), dim=1)
            means, present = assigned_means(unit, cosine.detach().argmax(dim=1), self.num_experts)
            ema_update(self.keys.data, means, present, self.ema_alpha)
        return cosine / self.temperature

    @torch.no_grad()
    def init_keys(self, patches: torch.Tensor, seed: int) -> None:
        """k-means keys from the embeddings of a data sample's patches (cosine/Gumbel keys and the key
        attention keys); deterministic for a seed."""
        embedding = self.embedding(patches)
        self.keys.data.copy_(kmeans(embedding, self.num_experts, seed))
        queries = self.query(embedding)
        centroids = kmeans(queries, self.num_experts, seed)
        self.attention_keys.data.copy_(centroids * queries.norm(dim=1).mean())


@cache
def positional_experts(grid: tuple[int, int], num_experts: int) -> tuple[int, ...]:
    """The expert of each patch position (row-major) for the positional router: the grid cut into
    num_experts blocks, r×c with r the largest divisor of n up to √n (4 experts -> quadrants)."""
    rows, cols = grid
    block_rows = max(d for d in range(1, math.isqrt(num_experts) + 1) if num_experts % d == 0)
    block_cols = num_experts // block_rows
    return tuple(
        (row * block_rows // rows) * block_cols + (col * block_cols // cols)
        for row in range(rows)
        for col in range(cols)
    )


@ROUTERS.register("positional", "Deterministic by patch position (grid blocks), plus |Gaussian| noise σ")
def positional(bank: RouterBank, routing: RoutingInput) -> torch.Tensor:
    """One-hot on the position's expert; while training, w ∝ onehot + σ·|ε| keeps a noise-driven mix."""
    experts = torch.tensor(positional_experts(routing.grid, bank.num_experts), device=routing.patches.device)
    weights = F.one_hot(experts, bank.num_experts).to(routing.patches.dtype).repeat(routing.batch, 1)
    if bank.training and bank.noise_sigma > 0:
        weights = weights + bank.noise_sigma * torch.randn_like(weights).abs()
        weights = weights / weights.sum(dim=1, keepdim=True)
    return weights


@ROUTERS.register("uniform", "Every expert weighted 1/n")
def uniform(bank: RouterBank, routing: RoutingInput) -> torch.Tensor:
    """w_i = 1/n for every patch."""
    count = routing.patches.shape[0]
    return routing.patches.new_full((count, bank.num_experts), 1.0 / bank.num_experts)


@ROUTERS.register("cosine", "Softmax over cosine(patch embedding, k-means keys) / temperature")
def cosine(bank: RouterBank, routing: RoutingInput) -> torch.Tensor:
    """softmax(cos(Em_p, k) / temperature)."""
    return torch.softmax(bank.cosine_logits(routing.patches), dim=1)


@ROUTERS.register("gumbel", "Gumbel-softmax over the cosine-key scores with temperature gumbel_tau")
def gumbel(bank: RouterBank, routing: RoutingInput) -> torch.Tensor:
    """Training: differentiable Gumbel-softmax sample at τ; evaluation: softmax(scores / τ), no noise."""
    logits = bank.cosine_logits(routing.patches)
    if bank.training:
        return F.gumbel_softmax(logits, tau=bank.gumbel_tau, dim=1)
    return torch.softmax(logits / bank.gumbel_tau, dim=1)


@ROUTERS.register("mlp", "MLP on the CoordConv-enriched patch")
def mlp(bank: RouterBank, routing: RoutingInput) -> torch.Tensor:
    """softmax(MLP(pool₂ₓ₂(patch with coordinates)))."""
    return torch.softmax(bank.mlp(routing.patches), dim=1)


@ROUTERS.register("key_attention", "Scaled dot product of a projected patch embedding with learned keys")
def key_attention(bank: RouterBank, routing: RoutingInput) -> torch.Tensor:
    """softmax(q·kᵀ/√d) with q = W·Em_p."""
    query = bank.query(bank.embedding(routing.patches))
    scores = query @ bank.attention_keys.T / math.sqrt(query.shape[1])
    return torch.softmax(scores, dim=1)


def mask_and_top_k(weights: torch.Tensor, active: torch.Tensor, top_k: int) -> torch.Tensor:
    """N×n weights with switched-off experts zeroed, only the `top_k` largest kept (0 = all), renormalised.

    Args:
        active: n booleans, at least one true.
    """
    weights = weights * active.to(weights.dtype)
    if 0 < top_k < weights.shape[1]:
        kept = weights.topk(top_k, dim=1).indices
        weights = weights * torch.zeros_like(weights).scatter_(1, kept, 1.0)
    total = weights.sum(dim=1, keepdim=True)
    # A patch whose every active expert got exactly 0 (positional routing to a switched-off expert) spreads
    # evenly over the active ones instead of vanishing.
    fallback = active.to(weights.dtype) / active.sum()
    return torch.where(total > 0, weights / total.clamp_min(1e-12), fallback.expand_as(weights))
