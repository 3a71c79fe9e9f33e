"""Geometry of the dashboard's 24-hour chart, drawn as inline SVG by the template (no script).

Two panels over the same hours: deliveries above, failures below, each on its own scale (a
handful of failures would be invisible on the scale of thousands of deliveries).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..activity import HourCount

WIDTH, PANEL_H, GAP, LEFT, BOTTOM = 960, 110, 28, 56, 18  # px (the SVG scales to the page's width)
LABEL_EVERY_H = 3


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    title: str


@dataclass(frozen=True)
class Panel:
    name: str
    top: float
    peak: int
    total: int
    bars: list[Bar]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    panels: list[Panel]
    labels: list[tuple[float, str]]  # (x, "HH:00") under the lower panel
    baseline: list[float]  # y of each panel's axis


def _nice_peak(n: int) -> int:
    """The axis maximum: ``n`` rounded up to 1, 2 or 5 times a power of ten."""
    if n <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= n:
                return step * m
        step *= 10


def activity_chart(hours: list[HourCount]) -> Chart:
    slot = (WIDTH - LEFT) / max(1, len(hours))
    panels, baselines = [], []
    for i, (name, values) in enumerate((("deliveries", [h.deliveries for h in hours]),
                                        ("failures", [h.failures for h in hours]))):
        top = i * (PANEL_H + GAP) + 6
        peak = _nice_peak(max(values, default=0))
        bars = []
        for j, (h, v) in enumerate(zip(hours, values, strict=True)):
            bar_h = PANEL_H * v / peak
            bars.append(Bar(x=round(LEFT + j * slot + 1, 1), y=round(top + PANEL_H - bar_h, 1),
                            w=round(slot - 2, 1), h=round(bar_h, 1),
                            title=f"{h.hour:%Y-%m-%d %H}:00 UTC: {v} {name}"))
        panels.append(Panel(name, top, peak, sum(values), bars))
        baselines.append(top + PANEL_H)
    labels = [(round(LEFT + j * slot + slot / 2, 1), f"{h.hour:%H}:00") for j, h in enumerate(hours)
              if h.hour.hour % LABEL_EVERY_H == 0]
    height = int(baselines[-1] + BOTTOM)
    return Chart(WIDTH, height, LEFT, panels, labels, baselines)
