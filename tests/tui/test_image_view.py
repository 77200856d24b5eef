"""The figure view driven with Pilot: stepping through evaluations, switching figures, zoom, live follow, empty."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static

from engine.core.protocol import EventWriter
from tests.tui.figure_fixtures import add_evaluation, atomic_png, retrievals, write_figure_run
from tests.tui.fixtures import wait_for
from tui.screens.image_view import EMPTY_MESSAGE, ImageViewScreen
from tui.widgets.half_block_image import HalfBlockImage


class FiguresApp(App[None]):
    """A bare app showing one ImageViewScreen over a blank screen."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir

    def on_mount(self) -> None:
        self.push_screen(ImageViewScreen(self.run_dir, poll_interval=0.05))


@pytest.fixture
def figure_run(tmp_path: Path) -> Path:
    return write_figure_run(tmp_path / "runs", steps=(500, 1000, 1500))


def text_of(screen: ImageViewScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


def position(screen: ImageViewScreen) -> str:
    return text_of(screen, "#figure-position")


def shown(screen: ImageViewScreen) -> tuple[str, str, int] | None:
    """(tag, split, step) of the figure drawn."""
    figure = screen.figure
    image = screen.query_one(HalfBlockImage)
    if figure is None:
        return None
    assert image.path == figure.path
    return (figure.tag, figure.split, figure.step)


def drawn_text(image: HalfBlockImage) -> str:
    return "\n".join(strip.text for strip in image.render_lines(image.region.reset_offset))


def drawn_segments(image: HalfBlockImage) -> list[list[object]]:
    return [list(strip) for strip in image.render_lines(image.region.reset_offset)]


async def opened(pilot: Pilot) -> ImageViewScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ImageViewScreen))
    screen = pilot.app.screen
    assert isinstance(screen, ImageViewScreen)
    await wait_for(pilot, lambda: screen.loaded)
    await pilot.pause()
    return screen


async def test_opens_on_the_newest_evaluation_of_the_first_figure(figure_run: Path) -> None:
    async with FiguresApp(figure_run).run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        assert shown(screen) == ("retrievals", "sim2real", 1500)
        assert position(screen).startswith("eval 3/3 · step 1,500 · newest, following")
        assert text_of(screen, "#figure-caption") == "3 queries: top-5, green = within 25 m"
        kinds = text_of(screen, "#figure-kinds")
        assert kinds.startswith("figures") and "retrievals · sim2real" in kinds


async def test_arrows_and_brackets_step_through_evaluations(figure_run: Path) -> None:
    async with FiguresApp(figure_run).run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        await pilot.press("left")
        assert shown(screen) == ("retrievals", "sim2real", 1000)
        assert position(screen).startswith("eval 2/3 · step 1,000   fit")
        await pilot.press("left_square_bracket", "left_square_bracket")  # stops at the first
        assert shown(screen)[2] == 500
        await pilot.press("right_square_bracket")
        assert shown(screen)[2] == 1000
        await pilot.press("end")
        assert shown(screen)[2] == 1500 and screen.following
        await pilot.press("home")
        assert position(screen).startswith("eval 1/3 · step 500")
        await pilot.press("right", "right", "right")
        assert shown(screen)[2] == 1500


async def test_up_down_and_tab_switch_figures_at_the_same_step(figure_run: Path) -> None:
    async with FiguresApp(figure_run).run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        await pilot.press("left")  # step 1,000
        await pilot.press("down")
        assert shown(screen) == ("overlay", "val", 1000)
        await pilot.press("tab", "tab")
        assert shown(screen) == ("confused_pairs", "val", 1000)
        assert "cat→dog" in text_of(screen, "#figure-caption")
        await pilot.press("tab")  # wraps around
        assert shown(screen) == ("retrievals", "sim2real", 1000)
        await pilot.press("up")
        assert shown(screen) == ("confused_pairs", "val", 1000)
        await pilot.press("shift+tab")
        assert shown(screen) == ("confusion", "val", 1000)


async def test_zoom_makes_the_arrows_pan_and_fit_gives_them_back(figure_run: Path) -> None:
    async with FiguresApp(figure_run).run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        image = screen.query_one(HalfBlockImage)
        await pilot.press("plus", "plus")
        assert image.view.zoom == 2.0
        assert "zoom 2× (arrows pan)" in position(screen)
        before = image.view.center
        await pilot.press("left", "down")
        assert image.view.center[0] < before[0] and image.view.center[1] > before[1]
        assert shown(screen) == ("retrievals", "sim2real", 1500)  # panned, not stepped
        await pilot.press("left_square_bracket")  # brackets still step, keeping the zoom
        assert shown(screen)[2] == 1000 and image.view.zoom == 2.0
        await pilot.press("tab")  # another figure starts whole
        assert shown(screen)[0] == "overlay" and image.view.fitted
        await pilot.press("plus", "minus")
        assert image.view.fitted
        await pilot.press("plus", "f")
        assert image.view.fitted and position(screen).endswith("fit")
        await pilot.press("left")
        assert shown(screen) == ("overlay", "val", 500)


async def test_follows_new_evaluations_at_the_newest_only(figure_run: Path) -> None:
    async with FiguresApp(figure_run).run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        add_evaluation(figure_run, 2000)
        await wait_for(pilot, lambda: shown(screen) == ("retrievals", "sim2real", 2000))
        assert position(screen).startswith("eval 4/4 · step 2,000 · newest, following")
        await pilot.press("left")
        add_evaluation(figure_run, 2500)
        await wait_for(pilot, lambda: position(screen).startswith("eval 3/5"))
        assert shown(screen)[2] == 1500  # looking back: the view stays


async def test_nothing_is_redrawn_while_nothing_changes(
    figure_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FiguresApp(figure_run).run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        shows = []
        monkeypatch.setattr(screen, "_show", lambda *a, **k: shows.append(a))
        version = screen.images.version
        await pilot.pause(0.3)  # several polls
        assert shows == [] and screen.images.version == version


async def test_empty_run_says_where_figures_come_from_then_shows_the_first(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "no-figures"
    run.mkdir(parents=True)
    async with FiguresApp(run).run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        image = screen.query_one(HalfBlockImage)
        assert image.path is None and image.message == EMPTY_MESSAGE
        assert "no-figures" in text_of(screen, "#figure-kinds")
        await pilot.press("left", "down", "plus", "home", "end")  # nothing to do, nothing breaks
        add_evaluation(run, 500)
        await wait_for(pilot, lambda: shown(screen) == ("retrievals", "sim2real", 500))
        assert position(screen).startswith("eval 1/1 · step 500")


async def test_a_missing_or_broken_file_is_said_not_raised(figure_run: Path) -> None:
    async with FiguresApp(figure_run).run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        figure = screen.figure
        assert figure is not None
        image = screen.query_one(HalfBlockImage)
        figure.path.write_bytes(b"not a png")
        image.refresh()
        await pilot.pause()
        assert "cannot read retrievals-sim2real.png: not an image file" in drawn_text(image)
        figure.path.unlink()
        image.refresh()
        await pilot.pause()
        assert "figure file missing: retrievals-sim2real.png" in drawn_text(image)


async def test_escape_and_q_go_back(figure_run: Path) -> None:
    async with FiguresApp(figure_run).run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(pilot.app.screen, ImageViewScreen))
        pilot.app.push_screen(ImageViewScreen(figure_run))
        await opened(pilot)
        await pilot.press("q")
        await wait_for(pilot, lambda: not isinstance(pilot.app.screen, ImageViewScreen))


async def test_skipped_events_are_named(figure_run: Path) -> None:
    with open(figure_run / "events.jsonl", "a") as f:
        f.write('{"t": 1, "kind": "image", "step": 9, "tag": "x", "split": "v", "path": "/etc/passwd"}\n')
    async with FiguresApp(figure_run).run_test(size=(120, 24)) as pilot:
        screen = await opened(pilot)
        assert "1 image event skipped: absolute path '/etc/passwd'" in position(screen)


async def test_no_color_draws_an_ink_sketch(figure_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR: Textual's monochrome filter runs over the drawing (it needs a style on every segment)."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = FiguresApp(figure_run)
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        await pilot.press("down", "down")  # the confusion matrix: dense ink on its dark cells
        await pilot.pause()
        drawing = drawn_text(screen.query_one(HalfBlockImage))
        assert "▀" not in drawing and "%" in drawing
        assert app.export_screenshot()  # the whole screen goes through the filters without raising


async def test_question_mark_shows_the_keys_in_the_console(figure_run: Path, make_app) -> None:
    """In the console, `?` lists this screen's keys beside the figure, which fits itself into what is left."""
    app = make_app(figure_run.parent)
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(ImageViewScreen(figure_run, poll_interval=0.05))
        screen = await opened(pilot)
        image = screen.query_one(HalfBlockImage)
        wide = image.content_size.width
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: bool(screen.query("HelpPanel")))
        await wait_for(pilot, lambda: image.content_size.width < wide)
        assert "▀" in drawn_text(image)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: not screen.query("HelpPanel"))


async def test_a_click_on_a_kind_shows_it(figure_run: Path) -> None:
    async with FiguresApp(figure_run).run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        await pilot.press("left")  # step 1,000
        kinds = text_of(screen, "#figure-kinds")
        await pilot.click("#figure-kinds", offset=(1 + kinds.index("overlay · val") + 2, 0))
        await wait_for(pilot, lambda: shown(screen) == ("overlay", "val", 1000))


async def test_w_fills_the_width_of_a_tall_figure_and_the_arrows_scroll_it(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "tall"
    run.mkdir(parents=True)
    path = "figures/step_000500/retrievals-val.png"
    atomic_png(retrievals(500, queries=8), run / path)  # 8 queries: tall, so height-bound at 80×24
    with EventWriter(run / "events.jsonl") as events:
        events.emit("image", step=500, split="val", tag="retrievals", path=path, caption="8 queries")
    async with FiguresApp(run).run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        image = screen.query_one(HalfBlockImage)
        await pilot.press("w")
        assert image.view.zoom > 2 and "arrows pan" in position(screen)
        await pilot.pause()
        top = drawn_segments(image)
        await pilot.press("down", "down")
        await pilot.pause()
        assert image.view.center[1] > 0.2 and drawn_segments(image) != top
        assert screen.figure is not None and screen.figure.tag == "retrievals"  # scrolled, not switched
        await pilot.press("f")
        assert image.view.fitted


async def test_w_on_a_wide_figure_is_the_whole_figure(figure_run: Path) -> None:
    async with FiguresApp(figure_run).run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        await pilot.press("w")  # the retrieval strip already fills the width
        assert screen.query_one(HalfBlockImage).view.fitted
