"""A bar chart's geometry for an inline SVG (no script, no external file): the page's template
draws the rectangles and the line this computes, in a fixed viewBox that scales to any width."""

from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 12, 28


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    text: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    line: str
    ticks: list[Tick]
    labels: list[Label]
    baseline: float


def _gridline_step(highest: int) -> int:
    """A round step (1, 2, 5, 10, 20, 50, ...) whose four gridlines reach `highest`."""
    needed = max(1, -(-highest // 4))
    step = 1
    while True:
        for multiple in (1, 2, 5):
            if step * multiple >= needed:
                return step * multiple
        step *= 10


def day_chart(days: list[date], bars: list[int], line: list[int], unit: str) -> Chart:
    """Bars for `bars` (views) and a line for `line` (visitors), one slot per day; a few day
    labels along the bottom and four gridlines."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = _gridline_step(max([*bars, *line, 0]))
    top = step * 4
    slot = plot_width / max(len(days), 1)
    baseline = TOP + plot_height

    def y(value: int) -> float:
        return round(baseline - value / top * plot_height, 1)

    chart_bars = [
        Bar(
            x=round(LEFT + i * slot + slot * 0.15, 1),
            y=y(value),
            width=round(slot * 0.7, 1),
            height=round(baseline - y(value), 1),
            title=f"{day.isoformat()}: {value} {unit}",
        )
        for i, (day, value) in enumerate(zip(days, bars, strict=True))
    ]
    points = " ".join(
        f"{round(LEFT + (i + 0.5) * slot, 1)},{y(value)}" for i, value in enumerate(line)
    )
    every = max(1, len(days) // 6)
    labels = [
        Label(x=round(LEFT + (i + 0.5) * slot, 1), text=day.strftime("%d %b"))
        for i, day in enumerate(days)
        if i % every == 0
    ]
    ticks = [Tick(y=y(step * n), label=str(step * n)) for n in range(5)]
    return Chart(WIDTH, HEIGHT, chart_bars, points, ticks, labels, baseline)
