"""CosPlace classes and groups: hand-computed cells, CosPlace's own formula, the group-distance property."""

from __future__ import annotations

import numpy as np
import pytest

from engine.core.errors import ConfigError
from engine.data.cosplace_groups import (
    CosPlaceSettings,
    class_and_group,
    cosplace_classes,
    parse_headings,
)

PAPER = CosPlaceSettings.parse({})  # M 10 m, α 30°, N 5, L 2


@pytest.mark.parametrize(
    ("east", "north", "heading", "klass", "group"),
    [
        # 550123.4 // 10 = 55012 -> 55012 mod 5 = 2; 4100007.9 // 10 = 410000 -> 0; 95 // 30 = 3 -> 3 mod 2 = 1
        (550123.4, 4100007.9, 95.0, (55012, 410000, 3), (2, 0, 1)),
        # the last centimetre of the same east cell; next north cell; the last heading bin (330..360)
        (550129.99, 4100019.5, 359.9, (55012, 410001, 11), (2, 1, 1)),
        # a cell boundary belongs to the cell it starts
        (550130.0, 4100000.0, 0.0, (55013, 410000, 0), (3, 0, 0)),
        # 50 m east of the first point (N·M): another class of the same group
        (550173.4, 4100007.9, 95.0, (55017, 410000, 3), (2, 0, 1)),
        # a negative heading floors to bin -1, whose group is -1 mod 2 = 1 (CosPlace's `//` and `%`)
        (550123.4, 4100007.9, -10.0, (55012, 410000, -1), (2, 0, 1)),
    ],
)
def test_class_and_group_of_hand_computed_points(
    east: float, north: float, heading: float, klass: tuple, group: tuple
) -> None:
    classes, groups = class_and_group(np.array([east]), np.array([north]), np.array([heading]), PAPER)
    assert tuple(classes[0]) == klass
    assert tuple(groups[0]) == group


def test_groups_follow_cosplace_formula_on_random_points() -> None:
    """gmberton/CosPlace: class = (e // M * M, n // M * M, h // α * α), group = (class % (M·N) // M, ..., % (α·L) // α)."""
    rng = np.random.default_rng(0)
    east, north = rng.uniform(540_000, 560_000, 500), rng.uniform(4_090_000, 4_110_000, 500)
    heading = rng.uniform(0, 360, 500)
    settings = CosPlaceSettings.parse({"cell_m": 15, "heading_deg": 45, "groups_n": 4, "groups_l": 3})
    classes, groups = class_and_group(east, north, heading, settings)
    m, a, n, bins = 15, 45, 4, 3  # M, α, N, L
    for i in range(500):
        e, no, h = int(east[i] // m * m), int(north[i] // m * m), int(heading[i] // a * a)
        assert tuple(classes[i] * [m, m, a]) == (e, no, h)
        assert tuple(groups[i]) == (e % (m * n) // m, no % (m * n) // m, h % (a * bins) // a)


def test_classes_of_one_group_lie_n_cells_apart() -> None:
    rng = np.random.default_rng(1)
    utm = np.stack([rng.uniform(0, 400, 3000), rng.uniform(0, 400, 3000)], axis=1)
    heading = rng.uniform(0, 360, 3000)
    settings = CosPlaceSettings.parse({"min_images_per_class": 1})
    found = cosplace_classes(utm, heading, settings, batch_size=1)
    assert sum(found.group_sizes) == found.classes_found == len(found.class_keys)
    origins = found.class_keys[:, :2] * settings.cell_m
    for group, first in enumerate(found.group_offsets):
        keys = found.class_keys[first : first + found.group_sizes[group]]
        same_bins = keys[:, None, 2] == keys[None, :, 2]
        apart = np.abs(origins[first : first + len(keys), None] - origins[None, first : first + len(keys)])
        chebyshev = apart.max(axis=2)
        off_diagonal = ~np.eye(len(keys), dtype=bool)
        # same heading bin: cells at least N·M apart; otherwise headings at least L bins apart
        assert (chebyshev[same_bins & off_diagonal] >= settings.groups_n * settings.cell_m).all()
        bins_apart = np.abs(keys[:, None, 2] - keys[None, :, 2])
        assert (bins_apart[~same_bins] >= settings.groups_l).all()
    # every image of a kept class carries its group's class ids, group after group
    images_of = np.bincount(found.labels[found.labels >= 0], minlength=found.classes_found)
    assert (images_of >= 1).all()


def test_small_classes_are_left_out_and_groups_come_largest_first() -> None:
    # three cells 10 m apart on one street (groups 0, 1, 2 of east mod 5), one with a single image
    utm = np.array([[5.0, 5.0]] * 3 + [[15.0, 5.0]] * 3 + [[25.0, 5.0]] + [[55.0, 5.0]] * 2, np.float64)
    settings = CosPlaceSettings.parse({"min_images_per_class": 2, "groups_l": 1})
    found = cosplace_classes(utm, np.zeros(len(utm)), settings, batch_size=1)
    assert found.group_keys == [(0, 0, 0), (1, 0, 0)]  # (0,0,0) holds cells 0 and 5; (2,0,0) is too small
    assert found.group_sizes == [2, 1]
    assert list(found.labels) == [0, 0, 0, 2, 2, 2, -1, 1, 1]
    assert found.groups_found == 2 and found.classes_found == 3


def test_groups_num_takes_the_largest_and_checks_the_batch() -> None:
    utm = np.array([[5.0 + 10 * i, 5.0] for i in range(12)], np.float64)  # east cells 0..11
    settings = CosPlaceSettings.parse({"min_images_per_class": 1, "groups_l": 1, "groups_num": 2})
    found = cosplace_classes(utm, np.zeros(12), settings, batch_size=2)
    assert found.group_keys == [(0, 0, 0), (1, 0, 0)] and found.group_sizes == [3, 3]
    everything = cosplace_classes(utm, np.zeros(12), CosPlaceSettings.parse({"min_images_per_class": 1}), 3)
    assert everything.group_sizes == [3, 3] and everything.groups_found == 5  # groups of 2 classes skipped
    with pytest.raises(ConfigError, match="fewer than a batch of 3"):
        cosplace_classes(utm, np.zeros(12), CosPlaceSettings.parse({**settings.__dict__, "groups_num": 3}), 3)


def test_headings_come_from_field_nine() -> None:
    names = [
        "@550123.40@4100007.90@10@S@37.7@-122.4@pano1@@95.5@0@0@@.jpg",
        "train/@550123.40@4100007.90@33@S@37.0@15.0@p00001v0@@@@@202406@@.jpg",  # synthetic: no heading
    ]
    assert list(parse_headings(names)) == [95.5, 0.0]
    with pytest.raises(ConfigError, match="field 9"):
        parse_headings(["@1@2@10@S@0@0@pano@@north@0@0@@.jpg"])


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ({"cell": 10}, "loss.cosplace.cell"),
        ({"cell_m": 0}, "loss.cosplace.cell_m"),
        ({"groups_n": "five"}, "loss.cosplace.groups_n"),
        ({"groups_num": 51}, "loss.cosplace.groups_num"),
        ({"iterations_per_group": 0}, "loss.cosplace.iterations_per_group"),
        ([10, 30], "loss.cosplace"),
    ],
)
def test_bad_settings_name_their_key(given: object, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CosPlaceSettings.parse(given)
    assert caught.value.key == key
