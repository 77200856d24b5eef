"""A run's `image` events as the console reads them: paths checked, grouped by kind and step, read incrementally."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from engine.core.protocol import EventWriter
from engine.core.protocol.figures import UnsafeFigurePath
from engine.core.protocol.figures import figure_file as figure_path
from tests.tui.figure_fixtures import add_evaluation, write_figure_run
from tui.data.run_images import RunImages, kind_label


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    (folder / "figures" / "step_000500").mkdir(parents=True)
    return folder


def append(run_dir: Path, *events: dict) -> None:
    with open(run_dir / "events.jsonl", "a", encoding="utf-8") as f:
        for event in events:
            f.write(json.dumps({"t": 1.0, **event}) + "\n")


def image(step: int, tag: str = "retrievals", split: str = "sim2real", path: str | None = None) -> dict:
    return {
        "kind": "image",
        "step": step,
        "tag": tag,
        "split": split,
        "path": path or f"figures/step_{step:06d}/{tag}-{split}.png",
        "caption": f"{tag} at {step}",
    }


@pytest.mark.parametrize(
    "raw",
    [
        "/etc/passwd",
        "figures/../../secret.png",
        "figures/../run.json",
        "../other-run/figures/x.png",
        "checkpoints/last.pt",
        "figures",
        "C:\\figures\\x.png",
        "\\\\server\\share\\x.png",
        "figures/\0.png",
        "",
        None,
        42,
    ],
)
def test_unsafe_paths_are_refused(run_dir: Path, raw: object) -> None:
    with pytest.raises(UnsafeFigurePath):
        figure_path(run_dir, raw)


def test_a_link_out_of_the_run_is_refused(run_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"png")
    (run_dir / "figures" / "step_000500" / "escape.png").symlink_to(outside)
    with pytest.raises(UnsafeFigurePath, match="outside"):
        figure_path(run_dir, "figures/step_000500/escape.png")


def test_a_path_under_figures_is_the_file_in_the_run(run_dir: Path) -> None:
    path = figure_path(run_dir, "figures/step_000500/retrievals-sim2real.png")
    assert path == (run_dir / "figures/step_000500/retrievals-sim2real.png").resolve()


def test_figures_are_grouped_by_kind_and_ordered_by_step(run_dir: Path) -> None:
    append(
        run_dir,
        {"kind": "scalar", "step": 10, "values": {"loss/total": 1.0}},
        image(1000, "confusion", "val"),
        image(500, "confusion", "val"),
        image(500),
        {"kind": "eval", "step": 500, "split": "val", "metrics": {"mIoU": 50.0}},
        image(500, "custom_plot", "val"),
        image(500, "overlay", "val"),
    )
    images = RunImages(run_dir)
    assert images.poll()
    assert images.kinds() == [
        ("retrievals", "sim2real"),
        ("overlay", "val"),
        ("confusion", "val"),
        ("custom_plot", "val"),
    ]
    confusion = images.figures(("confusion", "val"))
    assert [f.step for f in confusion] == [500, 1000]
    assert confusion[0].caption == "confusion at 500"
    assert kind_label(("retrievals", "sim2real")) == "retrievals · sim2real"


def test_bad_events_are_skipped_with_a_warning_and_never_crash(
    run_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    append(run_dir, image(500, path="/etc/passwd"), image(600, path="figures/../run.json"), image(700))
    append(run_dir, {"kind": "image", "step": "late", "path": "figures/x.png"})
    with open(run_dir / "events.jsonl", "a") as f:
        f.write("{not json\n")
    images = RunImages(run_dir)
    with caplog.at_level(logging.WARNING):
        assert images.poll()
    assert [f.step for f in images.figures(("retrievals", "sim2real"))] == [700]
    assert len(images.skipped) == 3
    assert "absolute path" in images.skipped[0]
    assert "'..'" in images.skipped[1]
    assert "integer step" in images.skipped[2]
    assert any("image event skipped" in r.message for r in caplog.records)


def test_poll_reads_only_what_was_appended(run_dir: Path) -> None:
    images = RunImages(run_dir)
    assert not images.poll()  # no events.jsonl yet
    append(run_dir, image(500))
    assert images.poll()
    version = images.version
    assert not images.poll()  # nothing new: nothing changed
    assert images.version == version
    append(run_dir, {"kind": "scalar", "step": 600, "values": {"loss/total": 0.5}})
    assert not images.poll()  # new lines, but no figure
    append(run_dir, image(1000))
    assert images.poll()
    assert [f.step for f in images.figures(("retrievals", "sim2real"))] == [500, 1000]


def test_a_redrawn_figure_replaces_the_first_and_a_resume_drops_the_redone(run_dir: Path) -> None:
    append(run_dir, image(500), image(1000), image(1500))
    append(run_dir, {"kind": "resume", "step": 1000}, {**image(1000), "caption": "redrawn"})
    images = RunImages(run_dir)
    images.poll()
    figures = images.figures(("retrievals", "sim2real"))
    assert [(f.step, f.caption) for f in figures] == [(500, "retrievals at 500"), (1000, "redrawn")]


def test_a_truncated_events_file_is_read_again(run_dir: Path) -> None:
    append(run_dir, image(500), image(1000))
    images = RunImages(run_dir)
    images.poll()
    (run_dir / "events.jsonl").unlink()
    append(run_dir, image(700))
    os.utime(run_dir / "events.jsonl")
    assert images.poll()
    assert [f.step for f in images.figures(("retrievals", "sim2real"))] == [700]


def test_the_engine_writers_events_and_index_are_read(tmp_path: Path) -> None:
    """Figures written through EventWriter (with its events.cols index) and followed as they come."""
    run = write_figure_run(tmp_path / "runs", steps=(500, 1000))
    images = RunImages(run)
    images.poll()
    assert [kind for kind in images.kinds()] == [
        ("retrievals", "sim2real"),
        ("overlay", "val"),
        ("confusion", "val"),
        ("confused_pairs", "val"),
    ]
    assert all(f.path.is_file() for kind in images.kinds() for f in images.figures(kind))
    add_evaluation(run, 1500)
    assert images.poll()
    assert [f.step for f in images.figures(("overlay", "val"))] == [500, 1000, 1500]
    pairs = images.figures(("confused_pairs", "val"))[-1]
    assert "cat→dog" in pairs.caption


def test_events_written_by_the_writer_round_trip(run_dir: Path) -> None:
    with EventWriter(run_dir / "events.jsonl") as events:
        events.emit(
            "image", step=500, split="val", tag="overlay", path="figures/step_000500/o.png", caption="c"
        )
    images = RunImages(run_dir)
    images.poll()
    (figure,) = images.figures(("overlay", "val"))
    assert figure.path == (run_dir / "figures/step_000500/o.png").resolve()


def test_news_and_snapshots(run_dir: Path) -> None:
    images = RunImages(run_dir)
    assert not images.has_news()  # no events.jsonl
    append(run_dir, image(500), image(500, "confusion", "val"))
    assert images.has_news()
    images.poll()
    assert not images.has_news()
    frozen = images.snapshot()
    append(run_dir, image(1000))
    images.poll()
    assert [f.step for f in frozen.figures(("retrievals", "sim2real"))] == [500]  # unchanged by later reads
    assert frozen.kinds() == [("retrievals", "sim2real"), ("confusion", "val")]
    assert images.snapshot().version == frozen.version + 1


def test_emptied_events_file_drops_every_figure(run_dir: Path) -> None:
    append(run_dir, image(500))
    images = RunImages(run_dir)
    images.poll()
    (run_dir / "events.jsonl").write_text("")
    assert images.poll()
    assert images.kinds() == []
