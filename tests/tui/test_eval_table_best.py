"""The eval table's `best` row is the best checkpoint's evaluation (one step, every metric), and its header
says what the deltas are against."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.data.run_snapshot import EvalPoint
from tui.widgets.eval_table import DELTA_LEGEND, EvalTable, best_point, summarize

HISTORY = (
    EvalPoint(0, {"R@1": 10.0, "R@5": 30.0}),
    EvalPoint(100, {"R@1": 60.0, "R@5": 70.0}),
    EvalPoint(200, {"R@1": 55.0, "R@5": 90.0}),  # R@5 peaks where R@1 (the main metric) does not
)


def test_best_is_one_evaluation_chosen_by_the_main_metric() -> None:
    summary = summarize("pitts30k", HISTORY, "R@1")
    assert summary.best_step == 100 and summary.best == {"R@1": 60.0, "R@5": 70.0}  # not R@5 90.0
    assert best_point(HISTORY[:1], "R@1") == HISTORY[0]  # only the untrained evaluation: that one
    assert summarize("night", HISTORY, "R@1", best_step=200).best == {"R@1": 55.0, "R@5": 90.0}


class _Table(App[None]):
    def compose(self) -> ComposeResult:
        yield EvalTable()


async def test_header_says_what_deltas_are_against_and_best_row_its_step() -> None:
    app = _Table()
    async with app.run_test(size=(100, 12)):
        table = app.query_one(EvalTable)
        night = (EvalPoint(100, {"R@1": 40.0, "R@5": 50.0}), EvalPoint(200, {"R@1": 45.0, "R@5": 52.0}))
        table.show({"pitts30k": HISTORY, "night": night}, None, order=("R@1", "R@5"), main_metric="R@1")
        headers = [str(c.label) for c in table.columns.values()]
        assert headers[0] == f"test set  {DELTA_LEGEND}"
        assert [str(c) for c in table.get_row("pitts30k:best")] == ["  best @100", "60.0", "70.0"]
        # the same checkpoint on the other test set, although night's R@1 was higher later
        assert [str(c) for c in table.get_row("night:best")] == ["  best @100", "40.0", "50.0"]


async def test_best_follows_the_validation_split_and_rows_say_val_or_test() -> None:
    app = _Table()
    async with app.run_test(size=(100, 12)):
        table = app.query_one(EvalTable)
        test = tuple(EvalPoint(p.step, p.metrics, "test") for p in HISTORY)  # listed first, peaks at 100
        val = (
            EvalPoint(0, {"R@1": 5.0, "R@5": 9.0}, "val"),
            EvalPoint(100, {"R@1": 20.0, "R@5": 30.0}, "val"),
            EvalPoint(200, {"R@1": 25.0, "R@5": 35.0}, "val"),  # the validation split peaks at 200
        )
        table.show({"pitts30k": test, "val": val}, None, order=("R@1", "R@5"), main_metric="R@1")
        assert [str(c) for c in table.get_row("pitts30k:best")] == ["  best @200", "55.0", "90.0"]
        assert str(table.get_row("pitts30k:latest")[0]) == "pitts30k test"
        assert str(table.get_row("val:latest")[0]) == "val"  # a split named after its role says it once
