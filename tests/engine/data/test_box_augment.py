"""Box-aware detection augmentations: boxes follow their pixels, probabilities steer, runs repeat."""

from __future__ import annotations

import inspect
import time
from pathlib import Path

import pytest
import torch
import yaml

from engine.core.errors import ConfigError
from engine.data.box_augment import BOX_AUGMENTS, PROBABILITIES, YoloxBoxAugment
from engine.data.box_geometry import box_candidates, pack_targets, transform_boxes, translation

OFF = {name: 0.0 for name in PROBABILITIES}
STILL = {"degrees": 0.0, "translate": 0.0, "scale_min": 1.0, "scale_max": 1.0, "shear": 0.0}


def scenes(b: int = 6, h: int = 48, w: int = 64, per_image: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of byte values (k/255) with non-overlapping flat rectangles, each object's class its own colour
    index; targets B×(per_image + 1)×5 whose last row is padding with junk coordinates."""
    gen = torch.Generator().manual_seed(7)
    images = torch.full((b, 3, h, w), 40 / 255)
    targets = torch.zeros(b, per_image + 1, 5)
    targets[:, -1] = torch.tensor([-1.0, 3, 4, 30, 40])  # padding: the class says so, whatever the numbers
    slot_w = w // per_image
    for i in range(b):
        for k in range(per_image):
            x1 = k * slot_w + int(torch.randint(0, 4, (1,), generator=gen))
            y1 = int(torch.randint(0, h // 2, (1,), generator=gen))
            x2, y2 = x1 + slot_w - 5, y1 + 8 + int(torch.randint(0, h // 2 - 8, (1,), generator=gen))
            cls = i * per_image + k
            images[i, :, y1:y2, x1:x2] = palette(cls).view(3, 1, 1)
            targets[i, k] = torch.tensor([cls, x1, y1, x2, y2], dtype=torch.float)
    return images, targets


def palette(cls: int) -> torch.Tensor:
    """A distinct byte colour per class (never the background's 40 or YOLOX's grey 114)."""
    return torch.tensor([60 + 7 * cls, 250 - 5 * cls, 130 + (cls % 3) * 40], dtype=torch.float) / 255


def build(name: str = "det_yolox", **overrides: float) -> YoloxBoxAugment:
    return BOX_AUGMENTS.build(name, **overrides)


def rows(targets: torch.Tensor, i: int) -> list[list[float]]:
    return [row.tolist() for row in targets[i] if row[0] >= 0]


def test_probabilities_zero_is_the_identity() -> None:
    images, targets = scenes()
    out, boxes = build(**OFF).boxes(images, targets, torch.Generator().manual_seed(0))
    assert out is images and boxes is targets


def test_flip_maps_a_known_box_exactly() -> None:
    images, targets = scenes(w=64)
    out, boxes = build(**{**OFF, "flip_prob": 1.0}).boxes(images, targets, torch.Generator().manual_seed(0))
    assert torch.equal(out, images.flip(-1))
    first = targets[0, 0]
    assert rows(boxes, 0)[0] == [first[0], 64 - first[3], first[2], 64 - first[1], first[4]]
    assert boxes.shape == (6, 3, 5)  # the padding row is gone: M is the most boxes of an image


def test_affine_with_identity_parameters_leaves_images_and_boxes() -> None:
    images, targets = scenes()
    aug = build(**{**OFF, "affine_prob": 1.0}, **STILL)
    out, boxes = aug.boxes(images, targets, torch.Generator().manual_seed(0))
    assert torch.equal(out, images) and torch.equal(boxes, targets[:, :3])


@pytest.mark.parametrize(
    "warp", [{}, {"affine_prob": 1.0, "translate": 0.1, "scale_min": 0.6, "scale_max": 1.4}]
)
def test_mosaic_boxes_stay_inside_on_their_objects_pixels(warp: dict) -> None:
    images, targets = scenes(b=8)
    settings = {**OFF, **STILL, "mosaic_prob": 1.0, **warp}
    out, boxes = build(**settings).boxes(images, targets, torch.Generator().manual_seed(3))
    h, w = images.shape[2:]
    kept = boxes[boxes[..., 0] >= 0]
    assert len(kept) >= 8  # a good share survives the crop
    assert (
        (kept[:, 1] >= 0).all()
        and (kept[:, 3] <= w).all()
        and (kept[:, 2] >= 0).all()
        and (kept[:, 4] <= h).all()
    )
    sources, checked = set(), 0
    for i in range(out.shape[0]):
        for cls, x1, y1, x2, y2 in rows(boxes, i):
            # Nearest-neighbour sampling: every pixel whose centre is inside the box is the object's colour
            # (shrunk by a pixel when the warp zooms, where box edges fall between pixels).
            inset = 1 if warp else 0
            region = out[i, :, int(y1) + inset : int(y2) - inset, int(x1) + inset : int(x2) - inset]
            if region.numel() == 0:  # a sliver cut off at the border
                continue
            checked += 1
            assert torch.equal(region, palette(int(cls)).view(3, 1, 1).expand_as(region)), (i, cls)
            sources.add(int(cls) // 3)
    assert checked >= 8 and len(sources) > 4  # boxes came from other images of the batch too
    assert bool((out == 114 / 255).all(1).any()) == bool(
        warp
    )  # zoomed out, YOLOX's grey shows past the images


def test_mixup_keeps_the_boxes_of_both_images() -> None:
    images, targets = scenes(b=4)
    settings = {**OFF, **STILL, "mixup_prob": 1.0, "mixup_scale_min": 1.0, "mixup_scale_max": 1.0}
    out, boxes = build(**settings).boxes(images, targets, torch.Generator().manual_seed(0))
    assert boxes.shape == (4, 6, 5)
    for i in range(4):
        mine = rows(boxes, i)[:3]
        assert mine == rows(targets, i)
        partner = {int(r[0]) // 3 for r in rows(boxes, i)[3:]}
        assert len(partner) == 1 and partner != {i}
    assert not torch.equal(out, images)


def test_hsv_changes_colours_only() -> None:
    images, targets = scenes()
    out, boxes = build(**{**OFF, "hsv_prob": 1.0}).boxes(images, targets, torch.Generator().manual_seed(0))
    assert boxes is targets and out.shape == images.shape
    assert out.min() >= 0.0 and out.max() <= 1.0 and (out - images).abs().max() > 0.05
    calm = build(**{**OFF, "hsv_prob": 1.0}, hsv_h=0.0, hsv_s=0.0, hsv_v=0.0)
    same, _ = calm.boxes(images, targets, torch.Generator().manual_seed(0))
    assert torch.allclose(same, images, atol=1e-5)


def test_padding_rows_stay_padding() -> None:
    images, targets = scenes(b=8)
    out, boxes = build().boxes(images, targets, torch.Generator().manual_seed(1))
    assert out.shape == images.shape and boxes.dtype == torch.float32
    pad = boxes[..., 0] < 0
    assert (boxes[..., 0][pad] == -1).all() and (boxes[pad][:, 1:] == 0).all()
    real = boxes[~pad]
    assert (real[:, 3] > real[:, 1]).all() and (real[:, 4] > real[:, 2]).all()
    assert set(real[:, 0].long().tolist()) <= set(targets[targets[..., 0] >= 0][:, 0].long().tolist())
    # Kept rows first: no real row after a padding row.
    assert (pad.long().diff(dim=1) >= 0).all()


def test_same_seed_same_batch_and_the_generator_moves_on() -> None:
    images, targets = scenes()
    aug = build()
    first = aug.boxes(images, targets, torch.Generator().manual_seed(5))
    second = aug.boxes(images, targets, torch.Generator().manual_seed(5))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    gen = torch.Generator().manual_seed(5)
    aug.boxes(images, targets, gen)
    third = aug.boxes(images, targets, gen)
    assert not torch.equal(first[0], third[0])


def test_probabilities_are_steerable_and_checked() -> None:
    aug = build()
    assert aug.probabilities() == {
        "mosaic_prob": 1.0,
        "mixup_prob": 1.0,
        "hsv_prob": 1.0,
        "flip_prob": 0.5,
        "affine_prob": 1.0,
    }
    aug.set_probability("mosaic_prob", 0.3)
    assert aug.probabilities()["mosaic_prob"] == 0.3
    for bad in (1.5, -0.1, "0.5", True, float("nan")):
        with pytest.raises(
            ValueError, match=r"augment\.mixup_prob is a probability, must be a number in \[0, 1\]"
        ):
            aug.set_probability("mixup_prob", bad)  # type: ignore[arg-type]
    with pytest.raises(
        KeyError, match="steerable: mosaic_prob, mixup_prob, hsv_prob, flip_prob, affine_prob"
    ):
        aug.set_probability("mosaic", 0.5)
    images, targets = scenes()
    for name in PROBABILITIES:
        aug.set_probability(name, 0)
    assert aug.boxes(images, targets, torch.Generator())[0] is images
    with pytest.raises(KeyError, match="nothing to steer"):
        BOX_AUGMENTS.build("none").set_probability("flip_prob", 0.5)


def test_none_passes_through_and_the_registry_lists_three() -> None:
    images, targets = scenes()
    aug = BOX_AUGMENTS.build("none", no_aug_steps=5)
    assert aug.boxes(images, targets, torch.Generator()) == (images, targets) and aug.probabilities() == {}
    assert BOX_AUGMENTS.names() == ["det_basic", "det_yolox", "none"]


def test_bad_values_are_config_errors_naming_the_key() -> None:
    for overrides, key in (
        ({"mosaic_prob": 1.2}, "augment.mosaic_prob"),
        ({"scale_min": 2.0, "scale_max": 1.0}, "augment.scale_min"),
        ({"translate": 0.7}, "augment.translate"),
        ({"max_aspect": 0.5}, "augment.max_aspect"),
        ({"hsv_s": "lots"}, "augment.hsv_s"),
    ):
        with pytest.raises(ConfigError) as err:
            build(**overrides)
        assert err.value.key == key


@pytest.mark.parametrize("name", ["none", "det_yolox", "det_basic"])
def test_presets_list_exactly_the_factory_parameters(name: str, repo_root: Path) -> None:
    preset = yaml.safe_load((repo_root / "presets" / "augment" / f"{name}.yaml").read_text())
    assert preset.pop("name") == name and isinstance(preset.pop("description"), str)
    assert preset.pop("tasks", ["detection"]) == ["detection"]
    signature = inspect.signature(BOX_AUGMENTS.get(name).factory).parameters
    assert preset == {k: p.default for k, p in signature.items()}


def test_box_geometry_helpers() -> None:
    boxes = torch.tensor([[[0.0, 0.0, 4.0, 2.0]]])
    assert torch.equal(
        transform_boxes(boxes, translation(torch.tensor([1.0]), torch.tensor([2.0]))),
        boxes + torch.tensor([1.0, 2, 1, 2]),
    )
    before = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]])
    after = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 1.5], [0, 0, 10, 3]])
    assert box_candidates(before, after).tolist() == [
        True,
        False,
        True,
    ]  # 1.5 px thin; 30% of the area is enough
    packed = pack_targets(torch.tensor([[3.0, 4.0]]), torch.ones(1, 2, 4), torch.tensor([[False, True]]))
    assert packed.tolist() == [[[4.0, 1, 1, 1, 1]]]
    empty = pack_targets(torch.tensor([[3.0]]), torch.ones(1, 1, 4), torch.tensor([[False]]))
    assert empty.tolist() == [[[-1.0, 0, 0, 0, 0]]]


def test_a_batch_of_16_at_160x256_is_cheap() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        images, targets = scenes(b=16, h=160, w=256)
        timings = {}
        for name in ("det_yolox", "det_basic"):
            aug, gen = build(name), torch.Generator().manual_seed(0)
            aug.boxes(images, targets, gen)
            spent = []
            for _ in range(5):
                start = time.thread_time()
                aug.boxes(images, targets, gen)
                spent.append(time.thread_time() - start)
            timings[name] = min(spent)
    finally:
        torch.set_num_threads(threads)
    print(
        "\n"
        + ", ".join(f"{n}: {t * 1e3:.1f} ms" for n, t in timings.items())
        + " per 16×3×160×256 batch (1 thread)"
    )
    assert max(timings.values()) < 1.0  # a sanity bound only: the machine is shared
