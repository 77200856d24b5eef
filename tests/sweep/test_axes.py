"""Sweep axes and specs: values split outside brackets, grid and zip points, sweep YAML files (no training)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.core.errors import UserError
from engine.core.sweep.axes import parse_assignments, parse_axis, points_of, split_values, value_text
from engine.core.sweep.spec import spec_from_command_line


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("gem,netvlad,mixvpr", ["gem", "netvlad", "mixvpr"]),
        ("[224,224],[322,322]", ["[224,224]", "[322,322]"]),
        ("[[1,2],[3]],{a: 1, b: 2}", ["[[1,2],[3]]", "{a: 1, b: 2}"]),
        ("'a,b',c", ["'a,b'", "c"]),
        ("1e-3", ["1e-3"]),
    ],
)
def test_values_split_on_commas_outside_brackets_and_quotes(text: str, values: list[str]) -> None:
    assert split_values(text) == values


def test_axis_keeps_values_as_written() -> None:
    assert parse_axis("optim.lr=1e-3,3e-3") == ("optim.lr", ["1e-3", "3e-3"])
    assert parse_axis("model.image_size=[224,224],[322,322]") == (
        "model.image_size",
        ["[224,224]", "[322,322]"],
    )


@pytest.mark.parametrize(
    "item", ["optim.lr", "optim.lr=", "optim.lr=1e-3,,3e-3", "9bad=1,2", "optim.lr=1e-3,"]
)
def test_bad_axis_is_one_line(item: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_axis(item)
    assert "\n" not in str(caught.value)


def test_single_values_are_overrides_of_every_point() -> None:
    axes, fixed = parse_assignments(["optim.lr=1e-3,3e-3", "train.max_steps=2"])
    assert axes == {"optim.lr": ["1e-3", "3e-3"]} and fixed == ["train.max_steps=2"]
    with pytest.raises(UserError, match="given twice"):
        parse_assignments(["optim.lr=1,2", "optim.lr=3,4"])


def test_grid_first_axis_slowest_and_zip_pairs() -> None:
    axes = {"a": ["1", "2"], "b": ["x", "y", "z"]}
    grid = points_of(axes)
    assert len(grid) == 6
    assert grid[:3] == [{"a": "1", "b": "x"}, {"a": "1", "b": "y"}, {"a": "1", "b": "z"}]
    assert points_of({"a": ["1", "2"], "b": ["x", "y"]}, "zip") == [
        {"a": "1", "b": "x"},
        {"a": "2", "b": "y"},
    ]


def test_zip_of_unequal_lists_names_the_lengths() -> None:
    with pytest.raises(UserError, match="a has 2, b has 3"):
        points_of({"a": ["1", "2"], "b": ["x", "y", "z"]}, "zip")


def test_yaml_values_become_override_text() -> None:
    assert [value_text(v) for v in (0.001, 3, "gem", [224, 224], True)] == [
        "0.001",
        "3",
        "gem",
        "[224, 224]",
        "true",
    ]


def test_sweep_yaml_file_with_command_line_additions(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "config": "demo",
                "name": "agg-lr",
                "mode": "grid",
                "parallel": 2,
                "overrides": ["train.max_steps=10"],
                "axes": {"model.aggregator": ["gem", "netvlad"], "optim.lr": [0.001, 0.003]},
                "baseline": {"model.aggregator": "netvlad", "optim.lr": "1e-3"},
            }
        )
    )
    spec = spec_from_command_line(str(path), ["train.eval_every=5", "model.image_size=[64,64],[96,96]"])
    assert spec.name == "agg-lr" and spec.parallel == 2 and spec.config == "demo"
    assert spec.overrides == ["train.max_steps=10", "train.eval_every=5"]
    points = spec.points()
    assert len(points) == 8 and points[0] == {
        "model.aggregator": "gem",
        "optim.lr": "0.001",
        "model.image_size": "[64,64]",
    }
    assert spec.baseline_index(points) == 4  # netvlad, 0.001 (=1e-3), first image size


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"config": "demo", "axes": {"optim.lr": []}}, "axes.optim.lr"),
        ({"config": "demo", "axes": {"optim.lr": [1]}, "mode": "cross"}, "mode"),
        ({"config": "demo", "axes": {"optim.lr": [1]}, "parallel": 0}, "parallel"),
        ({"config": "demo", "axes": {"optim.lr": [1]}, "colour": 1}, "unknown key"),
    ],
)
def test_bad_sweep_file_is_one_line(tmp_path: Path, content: dict, message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(UserError, match=message):
        spec_from_command_line(str(path), [])


def test_baseline_out_of_range() -> None:
    spec = spec_from_command_line("demo", ["optim.lr=1e-3,3e-3"], baseline=5)
    with pytest.raises(UserError, match="points are 0 to 1"):
        spec.baseline_index(spec.points())
