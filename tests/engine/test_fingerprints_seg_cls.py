"""Segmentation and classification evaluations carry their protocol: files, images, class set, ignore index,
eval size or window; a window makes the segmentation numbers not comparable with whole-image ones."""

from __future__ import annotations

from pathlib import Path

from engine.core.config import resolve_config
from engine.core.protocol.fingerprints import differences
from engine.runtime import make_runtime, seed_everything
from engine.tasks import TASKS
from tests.engine.seg_cls_data import cls_overrides, seg_overrides, tiny_cls, tiny_seg  # noqa: F401


def fingerprints(preset: str, overrides: list[str]) -> dict:
    cfg = resolve_config(preset, overrides)
    task = TASKS.build(cfg["task"]["name"], cfg, make_runtime(cfg["device"]), seed_everything(0))
    try:
        return task.fingerprints()  # type: ignore[attr-defined]
    finally:
        task.close()


def test_segmentation_fingerprint(tiny_seg: Path) -> None:
    whole = fingerprints("seg_demo", seg_overrides(tiny_seg))
    assert set(whole) == {"val", "fog"}
    fog = whole["fog"]
    assert fog["images"] == 8 and fog["classes"] == 8 and fog["ignore_index"] == 255
    assert fog["eval_size"] == "64x96" and "window" not in fog and len(fog["class_set_sha256"]) == 12
    windowed = fingerprints("seg_demo", [*seg_overrides(tiny_seg), "eval.window=[32,48]"])["fog"]
    assert differences(fog, windowed) == ["eval size 64x96 vs none", "window none vs 32x48"]


def test_classification_fingerprint(tiny_cls: Path) -> None:
    found = fingerprints("cls_demo", cls_overrides(tiny_cls))
    assert set(found) == {"val", "noisy"}
    assert found["val"]["images"] == 24 and found["val"]["classes"] == 8
    # a hash of the file names relative to the set's folder: parallel folders share it, a moved copy keeps it
    assert (
        found["val"]["files_sha256"] == found["noisy"]["files_sha256"]
        and len(found["val"]["files_sha256"]) == 12
    )
    assert found["val"]["class_set_sha256"] == found["noisy"]["class_set_sha256"]
