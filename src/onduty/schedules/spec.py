"""Builds the pure rota arithmetic's RotaSpec from stored rows (and the pieces a policy file's
rota needs for the same)."""

from __future__ import annotations

from datetime import time, timedelta

from onduty.localtime import WEEKDAYS
from onduty.schedules import rotation
from onduty.schedules.models import Rota


def hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def window(days: list[str], start: str, end: str) -> rotation.Window:
    return rotation.Window(
        days=frozenset(WEEKDAYS[d] for d in days), start=hhmm(start), end=hhmm(end)
    )


def from_row(rota: Rota) -> rotation.RotaSpec:
    return rotation.RotaSpec(
        timezone=rota.timezone,
        handoff_weekday=WEEKDAYS[rota.handoff_day],
        handoff_time=hhmm(rota.handoff_time),
        start=rota.start,
        length=timedelta(days=rota.length_days),
        slots=tuple(
            rotation.SlotSpec(
                name=slot.name,
                people=tuple(p.person_id for p in slot.people),
                windows=tuple(
                    window(list(w["days"]), str(w["start"]), str(w["end"]))  # type: ignore[call-overload]
                    for w in slot.windows or []
                ),
            )
            for slot in rota.slots
        ),
    )
