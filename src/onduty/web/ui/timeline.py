"""The team page's rota timeline as SVG geometry (pure): weeks across, a lane per slot with
each shift a bar (overrides and covers marked), a lane for time off, and a "now" line. Drawn
server-side, so the page needs no script and the CSP holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from onduty import localtime
from onduty.schedules.rotation import Shift

WIDTH, LABEL, LANE, TOP = 960, 110, 34, 26
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d", "#e45756", "#72b7b2", "#eeca3b")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str
    label: str
    title: str
    kind: str  # rota | override | cover | off | gap


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    label_width: int
    lanes: list[tuple[str, float]]  # name, y of the label
    weeks: list[tuple[float, str]]  # x and local date of each handoff
    bars: list[Bar]
    now_x: float | None


def build(
    shifts: Mapping[str, Sequence[Shift]],
    time_off: Sequence[tuple[str, datetime, datetime]],
    marks: Sequence[datetime],
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    zone: str,
) -> Timeline:
    span = (end - start).total_seconds()
    inner = WIDTH - LABEL

    def x(at: datetime) -> float:
        seconds = min(max((at - start).total_seconds(), 0.0), span)
        return round(LABEL + inner * seconds / span, 1)

    people = sorted({s.person for lane in shifts.values() for s in lane if s.person})
    colour = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(people)}
    bars: list[Bar] = []
    lanes: list[tuple[str, float]] = []
    for i, (slot, lane) in enumerate(shifts.items()):
        y = TOP + i * LANE
        lanes.append((slot, y + LANE / 2 + 4))
        for s in lane:
            left, right = x(s.start), x(s.end)
            if right - left < 0.5:
                continue
            when = f"{localtime.short(s.start, zone)} – {localtime.short(s.end, zone)}"
            kind = s.source if s.person else "gap"
            bars.append(
                Bar(
                    left,
                    y + 4,
                    round(right - left, 1),
                    LANE - 8,
                    colour.get(s.person or "", "#dddddd"),
                    (s.person or "nobody") if right - left > 40 else "",
                    f"{slot}: {s.person or 'nobody'} ({s.source}) {when}",
                    kind,
                )
            )
    y = TOP + len(shifts) * LANE
    if time_off:
        lanes.append(("time off", y + LANE / 2 + 4))
        for person, a, b in time_off:
            left, right = x(a), x(b)
            if right - left < 0.5:
                continue
            bars.append(
                Bar(
                    left,
                    y + 4,
                    round(right - left, 1),
                    LANE - 8,
                    colour.get(person, "#999999"),
                    person if right - left > 40 else "",
                    f"{person} away {localtime.short(a, zone)} – {localtime.short(b, zone)}",
                    "off",
                )
            )
        y += LANE
    weeks = [(x(at), localtime.to_local(at, zone).date().isoformat()) for at in marks]
    now_x = x(now) if start <= now < end else None
    return Timeline(WIDTH, int(y + 6), LABEL, lanes, weeks, bars, now_x)
