"""Routing diagnostics: entropy, utilisation, load balance, position-expert mutual information and route
clusters as pure functions, and the small-count recorder that accumulates them over an evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

#: A route (the chosen expert at every stage) holding at least this share of the patches is a cluster.
CLUSTER_SHARE = 0.01
#: Routes are counted in a bincount of n^stages cells; beyond this many the count is skipped.
MAX_ROUTE_CELLS = 1 << 20
SAMPLE_SIDE = 96  # pixels: the longer side of a sample image kept for the routing map


def entropy_bits(weights: torch.Tensor) -> torch.Tensor:
    """Mean over patches of H(w) = -Σ_i w_i log2 w_i for …×n routing weights (0·log 0 = 0)."""
    logs = torch.log2(weights.clamp_min(1e-12))
    return -(weights * logs).sum(dim=-1).mean()


def utilisation(choices: torch.Tensor, num_experts: int) -> torch.Tensor:
    """Share of patches whose chosen (argmax) expert is i, for i < n."""
    counts = torch.bincount(choices.flatten(), minlength=num_experts).to(torch.float32)
    return counts / counts.sum().clamp_min(1.0)


def load_balance(weights: torch.Tensor) -> torch.Tensor:
    """Switch-Transformer balance loss n·Σ_i f_i·P_i over N×n weights: f_i = share of patches routed to i
    (argmax, no gradient), P_i = mean router probability of i. 1 when balanced, n when one expert takes all."""
    weights = weights.reshape(-1, weights.shape[-1])
    num_experts = weights.shape[1]
    shares = utilisation(weights.detach().argmax(dim=1), num_experts).to(weights.dtype)
    return num_experts * (shares * weights.mean(dim=0)).sum()


def balance_from_totals(choice_counts: np.ndarray, probability_sums: np.ndarray) -> float:
    """n·Σ f_i·P_i from the counts of chosen experts and the sums of router probabilities over the same
    patches (the `load_balance` definition, over a whole evaluation)."""
    patches = max(float(np.sum(choice_counts)), 1.0)
    return float(
        len(choice_counts) * np.sum(np.asarray(choice_counts) * np.asarray(probability_sums)) / patches**2
    )


def mutual_information_bits(joint_counts: np.ndarray) -> float:
    """I(position; expert) in bits from a positions×experts table of counts.

    0 when the expert does not depend on the position; log2(n) for a bijection between n equally frequent
    positions and n experts.
    """
    joint = np.asarray(joint_counts, np.float64)
    total = joint.sum()
    if total <= 0:
        return 0.0
    p = joint / total
    independent = p.sum(axis=1, keepdims=True) * p.sum(axis=0, keepdims=True)
    nonzero = p > 0
    return float(max(0.0, np.sum(p[nonzero] * np.log2(p[nonzero] / independent[nonzero]))))


def route_codes(choices: torch.Tensor, num_experts: int) -> torch.Tensor:
    """S×N chosen experts (stage, patch) -> N route codes Σ_s e_s·n^s: equal codes = the same route."""
    powers = num_experts ** torch.arange(choices.shape[0], device=choices.device)
    return (choices * powers.view(-1, 1)).sum(dim=0)


def route_clusters(route_counts: np.ndarray, min_share: float = CLUSTER_SHARE) -> int:
    """How many routes hold at least `min_share` of the patches (groups of patches sharing a route)."""
    counts = np.asarray(route_counts, np.float64)
    total = counts.sum()
    return int(np.sum(counts >= min_share * total)) if total > 0 else 0


@dataclass
class RoutingSample:
    """One evaluated image kept for the routing map: its pixels and the chosen expert per stage and patch."""

    image: np.ndarray  # (h, w, 3) uint8, shrunk
    choices: np.ndarray  # (S, gh, gw) expert indices


@dataclass
class RoutingRecorder:
    """Counts accumulated between begin_evaluation and end_evaluation (device tensors: no sync per batch).

    Memory is fixed: S×P×n position counts, S×n sums, n^S route counts and `samples` small images.
    Batches on another patch grid than the first (a different eval size) add to utilisation, entropy and
    balance only.
    """

    num_stages: int
    num_experts: int
    samples: int = 4
    grid: tuple[int, int] | None = None
    position_counts: torch.Tensor | None = None  # S×P×n
    probability_sums: torch.Tensor | None = None  # S×n
    choice_counts: torch.Tensor | None = None  # S×n
    entropy_sums: torch.Tensor | None = None  # S
    route_counts: torch.Tensor | None = None  # n^S
    patches: int = 0
    pool: list[RoutingSample] = field(default_factory=list)
    images_seen: int = 0
    stride: int = 1

    def add(self, images: torch.Tensor, grid: tuple[int, int], weights: list[torch.Tensor]) -> None:
        """One batch: B×3×H×W images and per stage B×P×n routing weights."""
        weights = [w.detach().float() for w in weights]
        choices = torch.stack([w.argmax(dim=2) for w in weights])  # S×B×P
        device = choices.device
        if self.probability_sums is None:
            self.grid = grid
            cells = grid[0] * grid[1]
            self.position_counts = torch.zeros(self.num_stages, cells, self.num_experts, device=device)
            self.probability_sums = torch.zeros(self.num_stages, self.num_experts, device=device)
            self.choice_counts = torch.zeros(self.num_stages, self.num_experts, device=device)
            self.entropy_sums = torch.zeros(self.num_stages, device=device)
            routes = self.num_experts**self.num_stages
            if routes <= MAX_ROUTE_CELLS:
                self.route_counts = torch.zeros(routes, device=device)
        assert self.entropy_sums is not None and self.position_counts is not None
        assert self.choice_counts is not None
        for stage, stage_weights in enumerate(weights):
            self.choice_counts[stage] += torch.bincount(
                choices[stage].flatten(), minlength=self.num_experts
            ).float()
            self.probability_sums[stage] += stage_weights.sum(dim=(0, 1))
            self.entropy_sums[stage] += (
                entropy_bits(stage_weights) * stage_weights.shape[0] * stage_weights.shape[1]
            )
        self.patches += choices.numel()
        if grid != self.grid:
            return
        one_hot = torch.nn.functional.one_hot(choices, self.num_experts).float()  # S×B×P×n
        self.position_counts += one_hot.sum(dim=1)
        if self.route_counts is not None:
            codes = route_codes(choices.flatten(1), self.num_experts)
            self.route_counts += torch.bincount(codes, minlength=len(self.route_counts)).float()
        self._keep_samples(images, choices, grid)

    def _keep_samples(self, images: torch.Tensor, choices: torch.Tensor, grid: tuple[int, int]) -> None:
        """Keep every `stride`-th image; when twice `samples` are kept, drop every other one and double
        the stride: the kept images stay spread over everything seen (eval sets are often sorted by class),
        in bounded memory and with a copy to the host for O(samples · log N) images only."""
        for index in range(images.shape[0]):
            if (self.images_seen + index) % self.stride == 0:
                maps = choices[:, index].reshape(-1, *grid).cpu().numpy()
                self.pool.append(RoutingSample(thumbnail(images[index]), maps))
                if len(self.pool) > 2 * self.samples:
                    self.pool = self.pool[::2]
                    self.stride *= 2
        self.images_seen += images.shape[0]

    @property
    def kept(self) -> list[RoutingSample]:
        """Up to `samples` images spread evenly over the kept pool."""
        if len(self.pool) <= self.samples:
            return list(self.pool)
        picks = np.linspace(0, len(self.pool) - 1, self.samples).round().astype(int)
        return [self.pool[i] for i in picks]

    def summary(self) -> dict[str, float]:
        """routing/… diagnostics of everything recorded (empty when nothing was)."""
        if self.probability_sums is None or self.patches == 0:
            return {}
        assert self.position_counts is not None and self.entropy_sums is not None
        assert self.choice_counts is not None
        stage_patches = self.patches / self.num_stages
        position_counts = self.position_counts.cpu().numpy()
        choice_counts = self.choice_counts.cpu().numpy()
        probability_sums = self.probability_sums.cpu().numpy()
        entropies = (self.entropy_sums / stage_patches).cpu().numpy()
        out: dict[str, float] = {"routing/entropy": float(entropies.mean())}
        balances, informations = [], []
        for stage in range(self.num_stages):
            out[f"routing/entropy_s{stage}"] = float(entropies[stage])
            shares = choice_counts[stage] / max(choice_counts[stage].sum(), 1.0)
            for expert, share in enumerate(shares):
                out[f"routing/util_s{stage}_e{expert}"] = float(share)
            balances.append(balance_from_totals(choice_counts[stage], probability_sums[stage]))
            informations.append(mutual_information_bits(position_counts[stage]))
            out[f"routing/mi_bits_s{stage}"] = informations[-1]
        out["routing/load_balance"] = float(np.mean(balances))
        out["routing/mi_bits"] = float(np.mean(informations))
        if self.route_counts is not None:
            routes = self.route_counts.cpu().numpy()
            out["routing/routes_used"] = float(np.count_nonzero(routes))
            out["routing/route_clusters"] = float(route_clusters(routes))
        return out


def thumbnail(image: torch.Tensor) -> np.ndarray:
    """3×H×W normalised image -> (h, w, 3) uint8 with the longer side SAMPLE_SIDE, contrast stretched per
    image (the backbone does not know the data's normalisation)."""
    image = image.detach().float()[:3]
    scale = SAMPLE_SIDE / max(image.shape[1:])
    if scale < 1:
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[2] * scale)))
        image = torch.nn.functional.interpolate(image[None], size=size, mode="area")[0]
    low, high = image.amin(), image.amax()
    image = (image - low) / (high - low).clamp_min(1e-6)
    return (image.permute(1, 2, 0) * 255).round().to(torch.uint8).cpu().numpy()
