"""CosPlace classes and groups (Berton et al., CVPR 2022, gmberton/CosPlace datasets/train_dataset.py).

A class is a UTM cell of M metres × a heading bin of α degrees: (east // M, north // M, heading // α).
Its group is (east cell mod N, north cell mod N, heading bin mod L), so two classes of one group lie at
least N·M metres apart (or differ by at least L·α degrees): a group has no near-duplicate classes, and
each group trains its own classifier, one group after the other.

Classes with fewer than `min_images_per_class` images are dropped. Groups are trained largest first
(CosPlace takes them in the order its file listing meets them; by size is the same set of ideas without
depending on file order), `groups_num` of them (0: every group holding at least a batch of classes).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.config.validate import check_keys, coerce
from engine.core.errors import ConfigError, shown

KEY = "loss.cosplace"
HEADING_FIELD = 9  # gmberton names: @east@north@zone@band@lat@lon@pano_id@tile_num@heading@pitch@roll@...


@dataclass(frozen=True)
class CosPlaceSettings:
    """The `loss.cosplace` mapping; the defaults are CosPlace's (M 10, α 30, N 5, L 2, min 10 images)."""

    cell_m: float = 10.0  # M: side of a UTM cell in metres
    heading_deg: float = 30.0  # α: width of a heading bin in degrees
    groups_n: int = 5  # N: same-group classes are >= N cells apart east and north
    groups_l: int = 2  # L: same-group classes are >= L heading bins apart
    groups_num: int = 0  # groups trained in turn, largest first; 0: all that hold a batch of classes
    iterations_per_group: int = 10000  # optimizer steps on one group before the next (CosPlace's epoch)
    min_images_per_class: int = 10  # smaller classes are left out

    @classmethod
    def parse(cls, value: Any) -> CosPlaceSettings:
        """Validate a `loss.cosplace` mapping (missing keys take the defaults; unknown keys are errors).

        Raises:
            ConfigError: at `loss.cosplace[.key]`, naming what is allowed.
        """
        if not isinstance(value, dict):
            raise ConfigError(KEY, f"expected a mapping of CosPlace settings, got {shown(value)}")
        defaults = cls()
        allowed = [f.name for f in fields(cls)]
        check_keys(KEY, value, allowed)
        given = {name: coerce(f"{KEY}.{name}", item, getattr(defaults, name)) for name, item in value.items()}
        settings = cls(**given)
        for name in ("cell_m", "heading_deg"):
            if getattr(settings, name) <= 0:
                raise ConfigError(f"{KEY}.{name}", f"must be positive, got {getattr(settings, name)}")
        for name in ("groups_n", "groups_l", "iterations_per_group", "min_images_per_class"):
            if getattr(settings, name) < 1:
                raise ConfigError(f"{KEY}.{name}", f"must be at least 1, got {getattr(settings, name)}")
        if settings.groups_num < 0:
            raise ConfigError(
                f"{KEY}.groups_num", f"must be 0 (all groups) or more, got {settings.groups_num}"
            )
        if settings.groups_num > settings.max_groups:
            raise ConfigError(
                f"{KEY}.groups_num",
                f"{settings.groups_num} groups, but N×N×L = {settings.max_groups} exist; "
                f"use at most that, or 0 for all",
            )
        return settings

    @classmethod
    def of(cls, loss_cfg: dict[str, Any]) -> CosPlaceSettings | None:
        """The settings of a resolved loss section, or None when it trains on plain place labels."""
        value = loss_cfg.get("cosplace")
        return None if value is None else cls.parse(value)

    @property
    def max_groups(self) -> int:
        return self.groups_n * self.groups_n * self.groups_l


def class_and_group(
    east: np.ndarray, north: np.ndarray, heading: np.ndarray, settings: CosPlaceSettings
) -> tuple[np.ndarray, np.ndarray]:
    """(K, 3) int64 class keys (east cell, north cell, heading bin) and (K, 3) group keys for K positions.

    Floor division, as CosPlace's `//`: a heading of -10° falls in bin -1, whose group is -1 mod L.
    """
    cells = np.stack(
        [
            np.floor_divide(np.asarray(east, np.float64), settings.cell_m),
            np.floor_divide(np.asarray(north, np.float64), settings.cell_m),
            np.floor_divide(np.asarray(heading, np.float64), settings.heading_deg),
        ],
        axis=1,
    ).astype(np.int64)
    modulus = np.array([settings.groups_n, settings.groups_n, settings.groups_l], np.int64)
    return cells, np.mod(cells, modulus)


def parse_headings(names: list[str]) -> np.ndarray:
    """(N,) float64 heading in degrees from gmberton names (field 9); 0 where a name has none.

    Synthetic and SF-XL "processed" names without a heading all fall in heading bin 0, which is what
    CosPlace would do with one camera direction.
    """
    out = np.zeros(len(names), np.float64)
    for index, name in enumerate(names):
        parts = Path(name).name.split("@")
        text = parts[HEADING_FIELD] if len(parts) > HEADING_FIELD else ""
        try:
            out[index] = float(text) if text else 0.0
        except ValueError:
            raise ConfigError(
                KEY, f"cannot read a heading (field {HEADING_FIELD}) from '{name}': expected a number"
            ) from None
    return out


@dataclass(frozen=True)
class CosPlaceClasses:
    """Training images as CosPlace classes, numbered group after group in training order.

    Attributes:
        labels: (N,) int64 class of each image (classes of group 0 first), -1 for images left out
            (too small a class, or a group not trained).
        group_sizes: Classes of each trained group, in training order.
        group_keys: (east mod N, north mod N, heading mod L) of each trained group.
        class_keys: (C, 3) (east cell, north cell, heading bin) of each class, in class order.
        groups_found: Non-empty groups before `groups_num` was applied.
        classes_found: Classes with at least `min_images_per_class` images, in any group.
    """

    labels: np.ndarray
    group_sizes: list[int]
    group_keys: list[tuple[int, int, int]]
    class_keys: np.ndarray
    groups_found: int
    classes_found: int

    @property
    def group_offsets(self) -> np.ndarray:
        """First class of each trained group (classes are contiguous per group)."""
        return np.concatenate([[0], np.cumsum(self.group_sizes)[:-1]]).astype(np.int64)

    def describe(self, settings: CosPlaceSettings) -> str:
        """One line for run.json's data summaries and the run log."""
        used = int((self.labels >= 0).sum())
        sizes = (
            f"{self.group_sizes[0]}"
            if len(set(self.group_sizes)) == 1
            else (f"{min(self.group_sizes)}–{max(self.group_sizes)}")
        )
        return (
            f"CosPlace M {settings.cell_m:g} m, α {settings.heading_deg:g}°, N {settings.groups_n}, "
            f"L {settings.groups_l}: {self.classes_found:,} classes in {self.groups_found} groups; training "
            f"{len(self.group_sizes)} in turn ({sizes} classes, {used:,} images), "
            f"{settings.iterations_per_group:,} steps each"
        )


def cosplace_classes(
    utm: np.ndarray, headings: np.ndarray, settings: CosPlaceSettings, batch_size: int
) -> CosPlaceClasses:
    """Assign every image its class and group; keep the groups to train.

    Args:
        utm: (N, 2) east, north in metres.
        headings: (N,) degrees.
        batch_size: Distinct classes in a batch: a trained group needs at least that many.

    Raises:
        ConfigError: no group holds a batch of classes, or one of the `groups_num` largest does not.
    """
    cells, _ = class_and_group(utm[:, 0], utm[:, 1], headings, settings)
    class_keys, image_class, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    image_class = image_class.reshape(-1)
    kept = counts >= settings.min_images_per_class
    class_groups = np.mod(class_keys, [settings.groups_n, settings.groups_n, settings.groups_l])
    group_keys, class_group, group_sizes = np.unique(
        class_groups[kept], axis=0, return_inverse=True, return_counts=True
    )
    if not kept.any():
        raise ConfigError(
            f"{KEY}.min_images_per_class",
            f"no class holds {settings.min_images_per_class} images ({len(class_keys):,} classes of at most "
            f"{int(counts.max(initial=0))}); lower it or use larger cells",
        )
    order = sorted(range(len(group_keys)), key=lambda g: (-int(group_sizes[g]), tuple(group_keys[g])))
    chosen = _chosen_groups(order, group_sizes, group_keys, settings, batch_size)
    # New class ids: the kept classes of each chosen group, group after group, each group in key order.
    kept_ids = np.flatnonzero(kept)
    new_id = np.full(len(class_keys), -1, np.int64)
    next_id = 0
    for group in chosen:
        members = kept_ids[class_group.reshape(-1) == group]
        new_id[members] = np.arange(next_id, next_id + len(members))
        next_id += len(members)
    ordered_keys = np.zeros((next_id, 3), np.int64)
    ordered_keys[new_id[new_id >= 0]] = class_keys[new_id >= 0]
    return CosPlaceClasses(
        labels=new_id[image_class],
        group_sizes=[int(group_sizes[g]) for g in chosen],
        group_keys=[tuple(int(v) for v in group_keys[g]) for g in chosen],  # type: ignore[misc]
        class_keys=ordered_keys,
        groups_found=len(group_keys),
        classes_found=int(kept.sum()),
    )


def _chosen_groups(
    order: list[int],
    sizes: np.ndarray,
    keys: np.ndarray,
    settings: CosPlaceSettings,
    batch_size: int,
) -> list[int]:
    """The groups to train, largest first: `groups_num` of them, or all that hold a batch of classes."""
    if settings.groups_num == 0:
        chosen = [g for g in order if sizes[g] >= batch_size]
        if not chosen:
            raise ConfigError(
                "train.places_per_batch",
                f"a batch of {batch_size} classes, but the largest CosPlace group has {int(sizes[order[0]])}; "
                f"lower train.places_per_batch or use smaller {KEY}.groups_n",
            )
        return chosen
    if settings.groups_num > len(order):
        raise ConfigError(
            f"{KEY}.groups_num",
            f"{settings.groups_num} groups asked, but the training set fills only {len(order)}",
        )
    chosen = order[: settings.groups_num]
    small = [g for g in chosen if sizes[g] < batch_size]
    if small:
        g = small[0]
        raise ConfigError(
            f"{KEY}.groups_num",
            f"group {tuple(int(v) for v in keys[g])} has {int(sizes[g])} classes, fewer than a batch of "
            f"{batch_size}; train fewer groups, or lower train.places_per_batch",
        )
    return chosen
