"""Segmentation end to end in-process: folders, class names, feature taps, heads, paired augmentation, training."""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from engine.core.config import resolve_config
from engine.core.errors import ConfigError, UserError
from engine.core.protocol import (
    ControlReader,
    EventWriter,
    create_run,
    iter_events,
    new_run_info,
    write_json_atomic,
)
from engine.data.augment import AUGMENTS
from engine.data.formats import DATA_FORMATS, FormatOptions
from engine.data.pair_augment import PAIR_AUGMENTS, FlipScaleJitter, build_image_augment
from engine.data.sources import MaskLabels
from engine.models.backbones import build_backbone
from engine.models.feature_taps import find_taps, multi_scale
from engine.models.seg_heads import SEG_HEADS
from engine.models.seg_model import build_segmentation_model
from engine.runtime import make_runtime, seed_everything
from engine.steering import Steering
from engine.tasks import TASKS
from engine.tasks.check_summary import model_summary
from engine.trainer import Trainer
from tests.engine.seg_cls_data import seg_overrides, tiny_seg  # noqa: F401

CPU = {"name": "cpu", "amp": "off"}
CLASSES = ["road", "sidewalk", "building", "vegetation", "sky", "pole", "person", "car"]
IGNORE_MASK = MaskLabels.IGNORE


def load_seg_split(
    folder: Path, size: tuple[int, int], num_classes: int, ignore_index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every image (N×H×W×3) and mask (N×H×W) of a segmentation folder, read through its format at `size`."""
    options = FormatOptions(classes=[f"c{i}" for i in range(num_classes)], ignore_index=ignore_index)
    index = DATA_FORMATS.build("seg_folders").read(folder, None, options)
    images = np.stack([index.images.read(i, size) for i in range(len(index.images))])
    return images, np.stack([index.masks.read(i, size) for i in range(len(index.masks))])


def _config(root: Path, *extra: str, steps: int = 3) -> dict:
    return resolve_config("seg_demo", [*seg_overrides(root, steps), *extra])


def _train(tmp_path: Path, cfg: dict) -> tuple[Path, str, object]:
    paths = create_run(tmp_path / "runs", "seg")
    write_json_atomic(
        paths.run_json,
        new_run_info(paths.run_id, "seg", "segmentation", [], max_steps=cfg["train"]["max_steps"]),
    )
    runtime = make_runtime(cfg["device"])
    task = TASKS.build("segmentation", cfg, runtime, seed_everything(cfg["train"]["seed"]))
    events = EventWriter(paths.events)
    status = Trainer(
        paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events)
    ).train()
    events.close()
    return paths.root, status, task


# -- folders ----------------------------------------------------------------------------------------------
def test_split_reads_resized_and_writes_nothing_into_the_data(tiny_seg: Path) -> None:
    images, masks = load_seg_split(tiny_seg / "val", (32, 48), len(CLASSES), 255)
    assert images.shape == (8, 32, 48, 3) and images.dtype == np.uint8
    assert masks.shape == (8, 32, 48) and set(np.unique(masks)) <= set(range(8)) | {IGNORE_MASK}
    assert not [p for p in tiny_seg.rglob("*") if p.suffix == ".npy"]


def _copy_split(tiny_seg: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "split"
    shutil.copytree(tiny_seg / "val", folder)
    return folder


def test_folder_mistakes_are_one_line_user_errors(tiny_seg: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="masks not found"):
        folder = tmp_path / "only_images"
        shutil.copytree(tiny_seg / "val" / "images", folder / "images")
        load_seg_split(folder, (32, 48), 8, 255)
    folder = _copy_split(tiny_seg, tmp_path)
    next(folder.glob("masks/*.png")).unlink()
    with pytest.raises(UserError, match="1 unpaired file.*has no mask"):
        load_seg_split(folder, (32, 48), 8, 255)


def test_bad_masks_name_the_file(tiny_seg: Path, tmp_path: Path) -> None:
    folder = _copy_split(tiny_seg, tmp_path)
    mask = sorted(folder.glob("masks/*.png"))[2]
    Image.fromarray(np.full((64, 96), 9, np.uint8), mode="L").save(mask)
    with pytest.raises(UserError, match=f"{mask.name} holds value 9: expected class indices 0..7"):
        load_seg_split(folder, (32, 48), 8, 255)
    Image.fromarray(np.zeros((64, 96, 3), np.uint8)).save(mask)
    with pytest.raises(UserError, match="single-channel PNG"):
        load_seg_split(folder, (32, 48), 8, 255)


def test_other_ignore_values_are_stored_as_255(tiny_seg: Path, tmp_path: Path) -> None:
    folder = _copy_split(tiny_seg, tmp_path)
    for path in folder.glob("masks/*.png"):
        values = np.asarray(Image.open(path))
        Image.fromarray(np.where(values == 255, 200, values).astype(np.uint8), mode="L").save(path)
    _, masks = load_seg_split(folder, (64, 96), 8, 200)
    _, reference = load_seg_split(tiny_seg / "val", (64, 96), 8, 255)
    assert np.array_equal(masks, reference)


def test_class_names_from_config_or_classes_json(tiny_seg: Path, tmp_path: Path) -> None:
    summary = model_summary(_config(tiny_seg))
    assert summary["classes"] == CLASSES and "logits: 8 classes × 64×96" in summary["output"]
    renamed = [f"k{i}" for i in range(8)]
    assert model_summary(_config(tiny_seg, f"task.classes={json.dumps(renamed)}"))["classes"] == renamed
    bare = tmp_path / "bare"
    shutil.copytree(tiny_seg / "train", bare / "train")
    with pytest.raises(ConfigError, match="task.classes: required"):
        model_summary(_config(bare, "eval.val_sets=[]", "eval.test_sets=[]"))
    with pytest.raises(ConfigError, match="task.ignore_index"):
        TASKS.build(
            "segmentation", _config(tiny_seg, "task.ignore_index=3"), make_runtime(CPU), seed_everything(0)
        )


# -- model ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("backbone", "strides"),
    [
        ({"name": "resnet18", "pretrained": False}, [4, 8, 16, 32]),
        ({"name": "plain_cnn", "depth": 6, "width": 8, "output_stride": 8}, [4, 8]),
    ],
)
def test_taps_give_every_scale_and_the_head_logits_at_input_size(backbone: dict, strides: list[int]) -> None:
    b = build_backbone(backbone, (64, 96))
    taps = find_taps(b)
    maps = multi_scale(b, taps, torch.randn(2, 3, 64, 96))
    assert [64 // m.shape[-2] for m in maps] == strides == [t.stride for t in taps] + [b.stride]
    assert [m.shape[1] for m in maps] == [t.channels for t in taps] + [b.out_channels]
    for head in ({"name": "fpn", "channels": 16, "dropout": 0.1}, {"name": "linear"}):
        model = build_segmentation_model({"backbone": backbone, "head": head, "image_size": [64, 96]}, 5)
        assert model(torch.randn(2, 3, 64, 96)).shape == (2, 5, 64, 96)
        assert list(model.module_groups()) == ["backbone", "head"]
    assert not b.body._forward_hooks if hasattr(b, "body") else True  # hooks live for one forward only


def test_dinov2_gives_one_scale_to_the_fpn() -> None:
    backbone = {"name": "dinov2_vits14", "pretrained": False, "output": "tokens"}
    model = build_segmentation_model(
        {
            "backbone": backbone,
            "head": {"name": "fpn", "channels": 16, "dropout": 0.0},
            "image_size": [56, 84],
        },
        4,
    )
    assert model.taps == [] and model.head.out_stride == 14
    assert model(torch.randn(1, 3, 56, 84)).shape == (1, 4, 56, 84)


def _section(repo_root: Path, slot: str, name: str) -> dict:
    data = yaml.safe_load((repo_root / "presets" / slot / f"{name}.yaml").read_text())
    data.pop("description", None)
    return data


@pytest.mark.parametrize(
    ("slot", "registry", "positional"), [("head", SEG_HEADS, 3), ("augment", PAIR_AUGMENTS, 0)]
)
def test_presets_list_every_factory_param(repo_root: Path, slot: str, registry, positional: int) -> None:
    for entry in registry:
        preset = _section(repo_root, slot, entry.name)
        assert preset.pop("name") == entry.name
        preset.pop("tasks", None)  # which tasks the preset fits: catalogue metadata, not a factory argument
        params = list(inspect.signature(entry.factory).parameters.values())[positional:]
        assert preset == {p.name: p.default for p in params}, f"presets/{slot}/{entry.name}.yaml"


def test_task_presets_list_the_task_keys(repo_root: Path) -> None:
    from engine.tasks.classification import ClassificationTask
    from engine.tasks.segmentation import SegmentationTask

    for name, cls in (("segmentation", SegmentationTask), ("classification", ClassificationTask)):
        params = list(inspect.signature(cls.__init__).parameters.values())[
            4:
        ]  # after self, cfg, runtime, generator
        preset = _section(repo_root, "task", name)
        assert preset.pop("name") == name and preset == {p.name: p.default for p in params}


# -- augmentation -----------------------------------------------------------------------------------------
def test_masks_follow_their_images_and_padding_is_unlabelled() -> None:
    aug = PAIR_AUGMENTS.build(
        "seg_basic", scale_min=0.6, scale_max=1.6, brightness=0.0, contrast=0.0, saturation=0.0
    )
    assert isinstance(aug, FlipScaleJitter)
    gen = torch.Generator().manual_seed(0)
    blocks = torch.randint(1, 8, (6, 4, 6), generator=gen).to(torch.uint8)  # 8×8 blocks of one label each
    masks = blocks.repeat_interleave(8, 1).repeat_interleave(8, 2)
    masks[:, :, :4] = 255
    images = (masks.float() / 255).unsqueeze(1).repeat(1, 3, 1, 1)  # the label, written into the pixels
    out, labels = aug.pair(images, masks, gen)
    assert labels.shape == masks.shape and labels.dtype == torch.uint8
    inside = out[:, 0] > 0  # padding is black (0) in the image and unlabelled in the mask
    assert (labels[~inside & (labels != 255)] == 0).all()
    exact = (
        (out[:, 0] * 255).round().to(torch.uint8)
    )  # nearest and bilinear agree where the label is constant
    same = exact == labels
    assert same[labels != 255].float().mean() > 0.8
    assert (labels == 255).float().mean() > (masks == 255).float().mean()  # zoom-outs padded with ignore
    flips = torch.Generator().manual_seed(1)
    flipper = PAIR_AUGMENTS.build(
        "seg_basic", flip_p=1.0, scale_min=1.0, scale_max=1.0, brightness=0.0, contrast=0.0, saturation=0.0
    )
    flipped_images, flipped = flipper.pair(images, masks, flips)
    assert torch.equal(flipped, masks.flip(-1)) and torch.allclose(flipped_images, images.flip(-1), atol=1e-6)


def test_bad_augment_and_loss_are_config_errors(tiny_seg: Path) -> None:
    runtime = make_runtime(CPU)
    with pytest.raises(ConfigError, match="augment.name: 'vpr_shift' cannot move masks with their images"):
        TASKS.build("segmentation", _config(tiny_seg, "augment=vpr_shift"), runtime, seed_everything(0))
    with pytest.raises(ConfigError) as err:
        TASKS.build("segmentation", _config(tiny_seg, "loss=multi_similarity"), runtime, seed_everything(0))
    assert err.value.key == "loss.name" and "allowed: ce" in err.value.message


# -- training ---------------------------------------------------------------------------------------------
def test_training_logs_components_evaluates_miou_and_resumes(tiny_seg: Path, tmp_path: Path) -> None:
    cfg = _config(tiny_seg, steps=3)
    run_dir, status, task = _train(tmp_path, cfg)
    assert status == "completed"
    events = list(iter_events(run_dir / "events.jsonl"))
    scalars = [e["values"] for e in events if e["kind"] == "scalar"]
    assert len(scalars) == 3 and {"loss/total", "loss/ce", "loss/lovasz", "lr/backbone", "lr/head"} <= set(
        scalars[0]
    )
    total = scalars[0]["loss/total"]
    assert total == pytest.approx(0.7 * scalars[0]["loss/ce"] + 0.3 * scalars[0]["loss/lovasz"], rel=1e-4)
    evals = [(e["step"], e["split"], e["metrics"]) for e in events if e["kind"] == "eval"]
    assert [(s, split) for s, split, _ in evals] == [(0, "val"), (0, "fog"), (3, "val"), (3, "fog")]
    metrics = evals[-1][2]
    assert {"mIoU", "pixel_acc", "IoU/road", "IoU/sky"} <= set(metrics) and 0 <= metrics["mIoU"] <= 100
    state = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    again = TASKS.build("segmentation", cfg, make_runtime(cfg["device"]), seed_everything(0))
    again.load_state_dict(state["model"])
    assert again.sampler.state_dict() == task.sampler.state_dict()
    assert torch.equal(again.next_batch()[1], task.next_batch()[1])  # the same next batch after a resume


def test_same_seed_same_losses(tiny_seg: Path, tmp_path: Path) -> None:
    def losses(run_dir: Path) -> list[float]:
        return [
            e["values"]["loss/total"] for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "scalar"
        ]

    cfg = _config(tiny_seg, "train.eval_at_start=false", steps=2)
    first, _, _ = _train(tmp_path / "a", cfg)
    second, _, _ = _train(tmp_path / "b", cfg)
    assert losses(first) == losses(second)


def test_vpr_registry_is_untouched_and_classification_takes_both() -> None:
    assert AUGMENTS.names() == ["none", "vpr_shift"] and PAIR_AUGMENTS.names() == [
        "cls_basic",
        "none",
        "seg_basic",
    ]
    images = torch.rand(2, 3, 16, 16)
    for name in ("cls_basic", "vpr_shift", "none"):
        out = build_image_augment({"name": name})(images, torch.Generator().manual_seed(0))
        assert out.shape == images.shape
    with pytest.raises(ConfigError, match="allowed: cls_basic, none, seg_basic, vpr_shift"):
        build_image_augment({"name": "flip"})


def test_synthetic_scenes_are_made_on_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.data import synth_seg
    from engine.data.ensure import ensure_data

    real, calls = synth_seg.make_synth_seg, []

    def small(root: Path, seed: int = 0) -> dict:
        calls.append(seed)
        return real(root, seed=seed, train_images=4, val_images=2, test_images=2)

    monkeypatch.setattr(synth_seg, "make_synth_seg", small)
    monkeypatch.setattr(
        synth_seg,
        "is_complete",
        lambda root, seed=0: (
            synth_seg.stored_summary(
                Path(root),
                synth_seg.MANIFEST,
                synth_seg.SynthSegParams(seed, train_images=4, val_images=2, test_images=2),
            )
            is not None
        ),
    )
    cfg = resolve_config("seg_demo", [f"data.root={tmp_path / 'scenes'}"])  # not there yet: no path checks
    ensure_data(cfg)
    ensure_data(cfg)
    assert calls == [0] and (tmp_path / "scenes" / "synth_seg.json").is_file()
    ensure_data(resolve_config("seg_demo", [f"data.root={tmp_path / 'scenes'}", "data.synthetic_seed=1"]))
    assert calls == [0, 1]  # another seed (or generator version) is rebuilt, not reused
    assert json.loads((tmp_path / "scenes" / "classes.json").read_text()) == CLASSES
    with pytest.raises(
        ConfigError, match="data.synthetic: there is no synthetic data set for task keypoints"
    ):
        ensure_data({"task": {"name": "keypoints"}, "data": {"root": str(tmp_path), "synthetic": True}})


def test_summary_before_the_synthetic_data_exists(tmp_path: Path) -> None:
    summary = model_summary(resolve_config("seg_demo", [f"data.root={tmp_path / 'later'}"]))
    assert summary["classes"] == CLASSES and summary["output"].startswith("logits: 8 classes × 64×96")
