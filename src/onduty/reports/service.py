"""The on-call metrics (SPEC §1 rule 12): per team, service, priority and person over a period.
Incident figures are SQL aggregates (counts, percentiles, sums of "within target" cases), one
query per grouping; pages are counted in SQL per person and minute and then placed in each
person's own time zone (SQL has no portable zone arithmetic); shifts and hours come from the
rota arithmetic. Reads only: the caller may run it on a read-only connection."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session

from onduty import localtime
from onduty.checks.models import Check, CheckRun
from onduty.db import dialect
from onduty.errors import InvalidInput
from onduty.escalation.models import Notification
from onduty.incidents.models import Alert, Incident, PriorityPolicy
from onduty.incidents.service import STAGES
from onduty.people.models import Organization, Person
from onduty.schedules import service as schedules_service
from onduty.services.models import Service

MAX_RANGE = timedelta(days=400)  # a year and a bit; longer is a 422
NIGHT = (time(22, 0), time(7, 0))  # local night in the person's zone: pages that wake people
WEEK_ZERO = 345600  # 1970-01-05T00:00Z, a Monday: weeks start on Monday 00:00 UTC


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime


def _bound(text: str, zone: str, field: str, *, end: bool) -> datetime:
    """A date (inclusive: `until` runs to the end of that day) or an ISO 8601 instant; local
    dates and times are read in `zone`."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end:
                day += timedelta(days=1)
            return localtime.local_to_utc(day, time(0), localtime.zone(zone))
        return localtime.to_utc(datetime.fromisoformat(text), zone)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"{field}: {text!r} is not a date (2026-11-30) or an ISO 8601 instant", field
        ) from None


def period(*, since: str | None, until: str | None, zone: str, now: datetime) -> Period:
    """The report's [since, until): dates inclusive, instants exact; by default the last 30
    days. A reversed or empty range, or one over MAX_RANGE, is InvalidInput."""
    end = _bound(until, zone, "until", end=True) if until else now
    start = _bound(since, zone, "since", end=False) if since else end - timedelta(days=30)
    if end <= start:
        raise InvalidInput("until must be after since", "until")
    if end - start > MAX_RANGE:
        raise InvalidInput(
            f"the range is {(end - start).days} days; at most {MAX_RANGE.days} are allowed",
            "since",
        )
    return Period(start, end)


# --- incidents --------------------------------------------------------------------------------


def _metrics(session: Session, ack_timeout_s: int) -> list[Any]:
    ack = dialect.epoch(session, Incident.acknowledged_at) - dialect.epoch(
        session, Incident.created_at
    )
    res = dialect.epoch(session, Incident.resolved_at) - dialect.epoch(session, Incident.created_at)
    target = PriorityPolicy.resolve_within_s
    return [
        func.count(Incident.id).label("incidents"),
        dialect.percentile(session, ack, 0.5).label("mtta_median_s"),
        dialect.percentile(session, ack, 0.9).label("mtta_p90_s"),
        dialect.percentile(session, res, 0.5).label("mttr_median_s"),
        dialect.percentile(session, res, 0.9).label("mttr_p90_s"),
        func.count(Incident.acknowledged_at).label("acknowledged"),
        func.sum(case((ack <= ack_timeout_s, 1), else_=0)).label("acked_in_time"),
        func.count(Incident.resolved_at).label("resolved"),
        func.count(target).label("with_target"),
        func.sum(case((and_(target.is_not(None), res <= target), 1), else_=0)).label(
            "resolved_in_time"
        ),
    ]


def _pct(part: Any, whole: Any) -> float | None:
    return round(100.0 * float(part or 0) / whole, 1) if whole else None


def _row(row: Any) -> dict[str, Any]:
    def secs(value: Any) -> float | None:
        return None if value is None else round(float(value), 1)

    return {
        "incidents": row.incidents,
        "acknowledged": row.acknowledged,
        "resolved": row.resolved,
        "mtta_median_s": secs(row.mtta_median_s),
        "mtta_p90_s": secs(row.mtta_p90_s),
        "mttr_median_s": secs(row.mttr_median_s),
        "mttr_p90_s": secs(row.mttr_p90_s),
        # Of all incidents: one not acknowledged (or not resolved) at all missed its target.
        "acknowledged_within_ack_timeout_pct": _pct(row.acked_in_time, row.incidents),
        "resolved_within_target_pct": _pct(row.resolved_in_time, row.with_target),
    }


def _incidents(session: Session, where: list[Any], ack_timeout_s: int, *groups: Any) -> Any:
    query = (
        select(*groups, *_metrics(session, ack_timeout_s))
        .select_from(Incident)
        .outerjoin(PriorityPolicy, PriorityPolicy.priority == Incident.priority)
        .where(*where)
    )
    if groups:
        query = query.group_by(*groups).order_by(*groups)
    return session.execute(query)


# --- pages in people's own hours --------------------------------------------------------------


@dataclass
class _Hours:
    """A person's working hours and zone, answering for whole minutes since 1970 (UTC) with
    integer arithmetic: the zone's offset is looked up once per hour (offsets change on the
    hour or half hour in every zone in use; a half-hour change is placed up to 30 min late)."""

    zone: str
    days: frozenset[int]
    start: int  # minutes after local midnight
    end: int
    offsets: dict[int, int] = field(default_factory=dict)

    def local(self, minute: int) -> tuple[int, int]:
        """(weekday, minute of the day) in the person's zone; weekday 0 is Monday."""
        hour = minute // 60
        offset = self.offsets.get(hour)
        if offset is None:
            at = datetime.fromtimestamp(hour * 3600, UTC)
            delta = localtime.to_local(at, self.zone).utcoffset()
            offset = self.offsets[hour] = int(delta.total_seconds() // 60) if delta else 0
        local = minute + offset
        return (local // 1440 + 3) % 7, local % 1440  # 1970-01-01 was a Thursday

    def working(self, weekday: int, minute: int) -> bool:
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        # A window past midnight belongs to the day it starts on.
        if minute >= self.start:
            return weekday in self.days
        return minute < self.end and (weekday - 1) % 7 in self.days


def _night(minute: int) -> bool:
    return (
        minute >= NIGHT[0].hour * 60 + NIGHT[0].minute
        or minute < NIGHT[1].hour * 60 + NIGHT[1].minute
    )


def _hhmm(text: str) -> int:
    hour, minute = (int(x) for x in text.split(":"))
    return hour * 60 + minute


_UTC_HOURS = _Hours("UTC", frozenset(range(7)), 0, 0)


def _people_hours(session: Session, org: Organization | None) -> dict[str, _Hours]:
    zone = org.timezone if org else "UTC"
    days = frozenset(localtime.WEEKDAYS[d] for d in (org.working_days if org else ["mon"]))
    start = _hhmm(org.working_start if org else "09:00")
    end = _hhmm(org.working_end if org else "18:00")
    return {
        p_id: _Hours(p_zone or zone, days, start, end)
        for p_id, p_zone in session.execute(select(Person.id, Person.timezone))
    }


# --- the report -------------------------------------------------------------------------------


def oncall_report(
    session: Session, *, team: str | None, since: datetime, until: datetime
) -> dict[str, Any]:
    """The on-call metrics for [since, until), of one team or all of them."""
    org = session.scalars(select(Organization)).first()
    ack_timeout_s = org.ack_timeout_s if org else 300
    where: list[Any] = [Incident.created_at >= since, Incident.created_at < until]
    if team is not None:
        where.append(Incident.team_id == team)
    totals = _row(_incidents(session, where, ack_timeout_s).one())
    by = {}
    for name, column in (
        ("team", Incident.team_id),
        ("service", Incident.service_id),
        ("priority", Incident.priority),
    ):
        by[name] = [
            {name: row[0], **_row(row)} for row in _incidents(session, where, ack_timeout_s, column)
        ]
    hours = _people_hours(session, org)
    people = _people(session, where, ack_timeout_s, team, since, until, hours)
    week = dialect.floor_div(
        session, dialect.epoch(session, Incident.created_at) - WEEK_ZERO, 7 * 86400
    )
    weekly: dict[int, dict[str, Any]] = {
        row[0]: {"week_start": _week_start(row[0]), **_row(row)}
        for row in _incidents(session, where, ack_timeout_s, week.label("week"))
    }
    pages_week = _pages(session, where, since, until, hours, weekly)
    for person, counts in pages_week.items():
        people.setdefault(person, _empty_person(person)).update(counts)
    return {
        "team": team,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "ack_timeout_s": ack_timeout_s,
        "night": f"{NIGHT[0]:%H:%M}-{NIGHT[1]:%H:%M} in each person's zone",
        "totals": totals,
        "by_team": by["team"],
        "by_service": by["service"],
        "by_priority": by["priority"],
        "by_person": sorted(people.values(), key=lambda p: p["person"]),
        "escalations": _escalations(session, where),
        "stages": _stages(session, where),
        "checks": _checks(session, team, since, until),
        "noisy_keys": _noisy(session, where, since, until, hours),
        "weekly": [weekly[k] for k in sorted(weekly)],
    }


def _week_start(week: int) -> str:
    return (datetime.fromtimestamp(WEEK_ZERO + week * 7 * 86400, UTC)).date().isoformat()


def _empty_person(person: str) -> dict[str, Any]:
    return {
        "person": person,
        "acknowledged": 0,
        "mtta_median_s": None,
        "mtta_p90_s": None,
        "pages": 0,
        "pages_off_hours": 0,
        "pages_night": 0,
        "shifts": 0,
        "hours_on_call": 0.0,
    }


def _people(
    session: Session,
    where: list[Any],
    ack_timeout_s: int,
    team: str | None,
    since: datetime,
    until: datetime,
    hours: dict[str, _Hours],
) -> dict[str, dict[str, Any]]:
    """Per person: what they acknowledged (and how fast), and their shifts and hours on call
    from the rota arithmetic (overrides and time off applied)."""
    out: dict[str, dict[str, Any]] = {}
    for row in _incidents(
        session,
        [*where, Incident.acknowledged_by.in_(select(Person.id))],
        ack_timeout_s,
        Incident.acknowledged_by,
    ):
        doc = out.setdefault(row[0], _empty_person(row[0]))
        doc["acknowledged"] = row.acknowledged
        doc["mtta_median_s"] = _row(row)["mtta_median_s"]
        doc["mtta_p90_s"] = _row(row)["mtta_p90_s"]
    teams = [team] if team else schedules_service.team_ids(session)
    for team_id in teams:
        # The rota's shifts (overrides and time off applied); hours are those inside the range.
        schedule = schedules_service.load_schedule(session, team_id=team_id, start=since, end=until)
        for slot in schedule.rota.slots:
            for shift in schedule.shifts(slot.name, since, until):
                if shift.person is None:
                    continue
                doc = out.setdefault(shift.person, _empty_person(shift.person))
                doc["shifts"] += 1
                doc["hours_on_call"] += (shift.end - shift.start).total_seconds() / 3600
    for doc in out.values():
        doc["hours_on_call"] = round(doc["hours_on_call"], 1)
    return out


def _minute(session: Session) -> Any:
    return dialect.floor_div(session, dialect.epoch(session, Notification.created_at), 60)


def _pages(
    session: Session,
    where: list[Any],
    since: datetime,
    until: datetime,
    hours: dict[str, _Hours],
    weekly: dict[int, dict[str, Any]],
) -> dict[str, dict[str, int]]:
    """Pages per person (one per person paged by a step), and of those outside working hours
    and at night in the person's own zone; also added to each week of `weekly`."""
    minute = _minute(session)
    query = (
        select(Notification.person_id, minute, func.count())
        .join(Incident, Incident.id == Notification.incident_id)
        .where(Notification.created_at >= since, Notification.created_at < until, *where[2:])
        .group_by(Notification.person_id, minute)
    )
    out: dict[str, dict[str, int]] = defaultdict(Counter)
    for person, at_minute, count in session.execute(query):
        h = hours.get(person, _UTC_HOURS)
        weekday, minute = h.local(at_minute)
        off = not h.working(weekday, minute)
        night = _night(minute)
        counts = out[person]
        counts["pages"] += count
        counts["pages_off_hours"] += count if off else 0
        counts["pages_night"] += count if night else 0
        week = (at_minute * 60 - WEEK_ZERO) // (7 * 86400)
        doc = weekly.get(week) or weekly.setdefault(
            week, {"week_start": _week_start(week), "incidents": 0}
        )
        for key, add in (
            ("pages", count),
            ("pages_off_hours", off * count),
            ("pages_night", night * count),
        ):
            doc[key] = doc.get(key, 0) + add
    return {p: dict(c) for p, c in out.items()}


def _noisy(
    session: Session,
    where: list[Any],
    since: datetime,
    until: datetime,
    hours: dict[str, _Hours],
) -> list[dict[str, Any]]:
    """The 10 alert keys that woke people most: pages at night in the paged person's zone."""
    minute = _minute(session)
    query = (
        select(
            Alert.service_id,
            Alert.dedup_key,
            func.min(Alert.summary),
            Notification.person_id,
            minute,
            func.count(),
        )
        .select_from(Notification)
        .join(Incident, Incident.id == Notification.incident_id)
        .join(Alert, Alert.incident_id == Notification.incident_id)
        .where(Notification.created_at >= since, Notification.created_at < until, *where[2:])
        .group_by(Alert.service_id, Alert.dedup_key, Notification.person_id, minute)
    )
    night: Counter[tuple[str, str]] = Counter()
    total: Counter[tuple[str, str]] = Counter()
    summaries: dict[tuple[str, str], str] = {}
    for service, key, summary, person, at_minute, count in session.execute(query):
        _weekday, minute = hours.get(person, _UTC_HOURS).local(at_minute)
        total[(service, key)] += count
        summaries[(service, key)] = summary
        if _night(minute):
            night[(service, key)] += count
    return [
        {
            "service": service,
            "key": key,
            "summary": summaries[(service, key)],
            "night_pages": n,
            "pages": total[(service, key)],
        }
        for (service, key), n in sorted(night.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    ]


def _escalations(session: Session, where: list[Any]) -> list[dict[str, Any]]:
    """Incidents by the highest escalation step that paged someone (1 = the first step)."""
    reached = (
        select(Notification.incident_id, func.max(Notification.step).label("step"))
        .join(Incident, Incident.id == Notification.incident_id)
        .where(*where)
        .group_by(Notification.incident_id)
        .subquery()
    )
    rows = session.execute(
        select(reached.c.step, func.count()).group_by(reached.c.step).order_by(reached.c.step)
    )
    return [{"level": step + 1, "incidents": n} for step, n in rows]


def _stages(session: Session, where: list[Any]) -> list[dict[str, Any]]:
    """Per journey stage: incidents that reached it, and the mean time from it to the next
    stage they reached (skipped stages are skipped). Each stage's instant is read from the JSON
    once, in a subquery, as seconds: the JSON is parsed per extraction, and the text to time
    conversion is the costly part."""
    inner = (
        select(
            *(
                dialect.epoch_of_text(session, Incident.stages[s].as_string()).label(s)
                for s in STAGES
            )
        )
        .where(*where)
        .cte("stage_times")
        .prefix_with("MATERIALIZED", dialect="postgresql")  # else inlined: one parse a use
    )
    at = {s: inner.c[s] for s in STAGES}
    columns: list[Any] = []
    for i, stage in enumerate(STAGES):
        columns.append(func.count(at[stage]))
        later = [at[s] for s in STAGES[i + 1 :]]
        if later:
            following = func.coalesce(*later) if len(later) > 1 else later[0]
            columns.append(func.avg(cast(following - at[stage], Float)))
        else:
            columns.append(literal(None))
    row = session.execute(select(*columns)).one()
    return [
        {
            "stage": stage,
            "reached": row[2 * i],
            "mean_seconds_to_next": None
            if row[2 * i + 1] is None
            else round(float(row[2 * i + 1]), 1),
        }
        for i, stage in enumerate(STAGES)
    ]


def _checks(
    session: Session, team: str | None, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Per check: checklist occurrences due, done and missed (completion %), and the
    failures of heartbeats (late) and probes in the period."""
    services = {s: t for s, t in session.execute(select(Service.id, Service.team_id))}
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for check_id, kind, n in session.execute(
        select(CheckRun.check_id, CheckRun.kind, func.count())
        .where(CheckRun.at >= since, CheckRun.at < until)
        .group_by(CheckRun.check_id, CheckRun.kind)
    ):
        counts[check_id][kind] = n
    out = []
    for check in session.scalars(select(Check).order_by(Check.id)):
        owner = check.team_id or services.get(check.service_id or "")
        if team is not None and owner != team:
            continue
        c = counts[check.id]
        doc: dict[str, Any] = {"check": check.id, "type": check.type, "team": owner}
        if check.type == "checklist":
            doc |= {
                "due": c["due"],
                "done": c["done"],
                "missed": c["missed"],
                "completion_pct": _pct(c["due"] - c["missed"], c["due"]),
            }
        else:
            doc |= {"failures": c["late"] + c["failed"], "recoveries": c["recovered"]}
        out.append(doc)
    return out


# --- CSV --------------------------------------------------------------------------------------


def csv_rows(report: dict[str, Any]) -> list[list[Any]]:
    """The report as long-format rows (section, group, metric, value), for spreadsheets."""
    rows: list[list[Any]] = [["section", "group", "metric", "value"]]
    for metric, value in report["totals"].items():
        rows.append(["totals", "", metric, value])
    for section, key in (
        ("by_team", "team"),
        ("by_service", "service"),
        ("by_priority", "priority"),
        ("by_person", "person"),
        ("escalations", "level"),
        ("stages", "stage"),
        ("checks", "check"),
        ("noisy_keys", "key"),
        ("weekly", "week_start"),
    ):
        for doc in report[section]:
            for metric, value in doc.items():
                if metric != key:
                    rows.append([section, doc[key], metric, value])
    return rows


def report(
    session: Session, *, team: str | None, since: str | None, until: str | None, now: datetime
) -> dict[str, Any]:
    """`oncall_report` for the texts a person gave (dates in the team's zone, else the
    organisation's): what the API, the CLI and the reports page call."""
    organization, zones = schedules_service.time_zones(session)
    if team is not None and team not in zones:
        raise InvalidInput(f"no team with id {team!r}", "team")
    span = period(since=since, until=until, zone=zones.get(team or "", organization), now=now)
    return oncall_report(session, team=team, since=span.since, until=span.until)
