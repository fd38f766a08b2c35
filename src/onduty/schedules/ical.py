"""iCalendar (RFC 5545) feeds of on-call shifts, with local times and their VTIMEZONE, and the
signed secret that makes a feed's URL work without a login."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime

from icalendar import Calendar, Event

from onduty import localtime
from onduty.schedules.rotation import Shift


def feed_token(secret_key: str, kind: str, ident: str) -> str:
    """The secret part of a feed URL: an HMAC of what the feed shows, so it needs no storage."""
    mac = hmac.new(secret_key.encode(), f"ical:{kind}:{ident}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def check_feed_token(secret_key: str, kind: str, ident: str, token: str) -> bool:
    return hmac.compare_digest(feed_token(secret_key, kind, ident), token)


def calendar(
    name: str, shifts: Iterable[tuple[str, Shift]], *, zone: str, stamp: datetime
) -> bytes:
    """A calendar with one event per (team, shift); times in `zone` with its TZID."""
    cal = Calendar()
    cal.add("prodid", "-//onduty//on-call shifts//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    for team, shift in shifts:
        if shift.person is None:
            continue
        event = Event()
        start = localtime.to_local(shift.start, zone)
        event.add("uid", f"{team}-{shift.slot}-{shift.person}-{shift.start:%Y%m%dT%H%M%SZ}@onduty")
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("dtend", localtime.to_local(shift.end, zone))
        event.add("summary", f"On call: {team} {shift.slot} ({shift.person})")
        event.add(
            "description", f"{shift.person} is on call for {team}/{shift.slot} ({shift.source})."
        )
        cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())
