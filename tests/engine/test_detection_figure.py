"""The detections figure draws ground truth and detections of each sample side by side."""

from __future__ import annotations

import numpy as np

from engine.figures.detections import DetectionSample, render_detections


def test_boxes_are_drawn_in_class_colours_on_both_panels() -> None:
    image = np.full((80, 128, 3), 90, np.uint8)
    sample = DetectionSample(
        index=3,
        image=image,
        boxes=np.array([[10, 10, 60, 50]], np.float32),
        labels=np.array([0]),
        predicted=np.array([[12, 11, 58, 52], [70, 20, 90, 40]], np.float32),
        predicted_labels=np.array([0, 1]),
        scores=np.array([0.9, 0.1], np.float32),  # the second is below the score drawn
    )
    figure = render_detections("val", [sample], ["car", "person"], "mAP 50.0")
    assert figure.tag == "detections" and figure.split == "val"
    assert "mAP 50.0" in figure.caption
    pixels = np.asarray(figure.image)
    car = np.array([255, 140, 0])  # the first box colour
    assert (np.abs(pixels.astype(int) - car).sum(axis=2) == 0).sum() > 100  # outlines on both panels
