"""Runbooks in the database: applying the folder (a version per content change; a file that
fails keeps the stored version), which runbooks an incident matches, the verdicts given at
resolution and the runbook tasks they open and close, and each runbook's effectiveness.
Services take a session and `now`, flush, and never commit."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from onduty import localtime
from onduty.audit import service as audit
from onduty.db import config_version
from onduty.db.config_version import configured
from onduty.errors import InvalidInput, InvalidTransition, NotFound
from onduty.incidents.models import Alert, Incident
from onduty.incidents.service import locked, record_stage
from onduty.incidents.timeline import timeline
from onduty.people.models import Organization, Person
from onduty.runbooks.lint import read_folder
from onduty.runbooks.models import Runbook, RunbookFeedback, RunbookTask, RunbookVersion
from onduty.runbooks.parse import RunbookFile
from onduty.services.models import Service

VERDICTS = ("enough", "partly", "not_enough")
DEFAULT_TASK_DUE_DAYS = 5  # working days to fix a runbook after a verdict short of "enough"


# --- applying the folder ----------------------------------------------------------------------


@dataclass
class Applied:
    """What applying a folder did: one line per runbook created, changed, removed or kept
    because its file failed, and the audit entries of the changes."""

    lines: list[str] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def apply_folder(session: Session, path: Path, *, actor: str, now: datetime) -> Applied:
    """Make the stored runbooks match the folder at `path`.

    A file that parses and names known services (and owner) becomes a new version when its
    content hash differs from the stored one; that closes the runbook's open tasks and records
    stage `runbook_updated` on their incidents. A file that fails keeps the stored version in
    use and stores the error on the runbook (shown on its page). A runbook whose file is gone
    is retired (kept, with its verdicts, but matched no more)."""
    config_version.bump(session)  # every process matches against the new index
    stored = {r.id: r for r in session.scalars(select(Runbook))}
    # A file whose hash is the stored version's is not parsed again: it was checked then.
    unchanged = {i: r.content_hash for i, r in stored.items() if r.active and r.error is None}
    folder = read_folder(path, unchanged=unchanged)
    services = set(session.scalars(select(Service.id)))
    people = set(session.scalars(select(Person.id)))
    done = Applied()
    for ident, problems in folder.failed.items():
        message = "; ".join(p.format(str(folder.files[ident])) for p in problems)
        _failed(session, stored.get(ident), ident, message, now, done)
    for runbook in folder.runbooks:
        file = str(folder.files[runbook.id])
        unknown = [s for s in runbook.services if s not in services]
        if runbook.owner is not None and runbook.owner not in people:
            unknown.append(f"owner {runbook.owner}")
        if unknown:
            line = runbook.lines.get("services", 1)
            message = f"{file}:{line}: unknown {', '.join(unknown)}"
            _failed(session, stored.get(runbook.id), runbook.id, message, now, done)
            continue
        _store(session, stored.get(runbook.id), runbook, actor, now, done)
    for ident, row in sorted(stored.items()):
        if row.active and ident not in folder.files:
            row.active = False
            row.changed_at = now
            done.lines.append(f"removed runbook {ident}")
            done.audit.append(_entry(actor, "remove", ident, now, None))
    session.flush()
    return done


def _entry(actor: str, verb: str, ident: str, now: datetime, version: int | None) -> dict[str, Any]:
    data = None if version is None else {"version": version}
    return audit.entry(
        actor=actor,
        action=f"policy.{verb}",
        object_type="runbook",
        object_id=ident,
        at=now,
        before=data if verb == "remove" else None,
        after=None if verb == "remove" else data,
    )


def _failed(
    session: Session, row: Runbook | None, ident: str, message: str, now: datetime, done: Applied
) -> None:
    if row is None:
        done.errors.append(f"runbook {ident} not applied: {message}")
        return
    if row.error != message:
        row.error, row.error_at = message, now
    done.errors.append(f"runbook {ident} kept at version {row.version}: {message}")


def _store(
    session: Session,
    row: Runbook | None,
    runbook: RunbookFile,
    actor: str,
    now: datetime,
    done: Applied,
) -> None:
    digest = runbook.content_hash
    if row is not None and row.content_hash == digest and row.active:
        row.error = row.error_at = None  # a file fixed back to the stored content
        return
    verb = "create" if row is None else "change"
    if row is None:
        row = Runbook(id=runbook.id, version=0)
        session.add(row)
    if row.content_hash == digest and not row.active:
        row.active = True  # the same file came back: no new version
        row.changed_at = now
        done.lines.append(f"restored runbook {runbook.id} (version {row.version})")
        done.audit.append(_entry(actor, "create", runbook.id, now, row.version))
        return
    row.version += 1
    row.title = runbook.title[:300]
    row.services, row.match, row.owner_id = runbook.services, runbook.match, runbook.owner
    row.text, row.content_hash, row.active = runbook.text, digest, True
    row.changed_at, row.error, row.error_at = now, None, None
    session.add(
        RunbookVersion(
            runbook_id=runbook.id,
            version=row.version,
            content_hash=digest,
            text=runbook.text,
            applied_at=now,
            applied_by=actor,
        )
    )
    session.flush()
    done.lines.append(f"{verb}d runbook {runbook.id} (version {row.version})")
    done.audit.append(_entry(actor, verb, runbook.id, now, row.version))
    if verb == "change":
        for task in session.scalars(
            select(RunbookTask).where(
                RunbookTask.runbook_id == runbook.id, RunbookTask.status == "open"
            )
        ):
            _close(session, task, actor=actor, now=now, version=row.version, link=None)


def export_folder(session: Session, path: Path) -> list[Path]:
    """Write each active runbook's stored file into `path` (made if needed), as applied."""
    path.mkdir(parents=True, exist_ok=True)
    written = []
    for row in session.scalars(select(Runbook).where(Runbook.active).order_by(Runbook.id)):
        file = path / f"{row.id}.md"
        file.write_text(row.text, encoding="utf-8")
        written.append(file)
    return written


# --- reading and matching ---------------------------------------------------------------------


def list_runbooks(session: Session, *, include_retired: bool = False) -> list[Runbook]:
    query = select(Runbook).order_by(Runbook.id)
    if not include_retired:
        query = query.where(Runbook.active)
    return list(session.scalars(query))


def get_runbook(session: Session, *, runbook_id: str) -> Runbook:
    row = session.get(Runbook, runbook_id)
    if row is None:
        raise NotFound(f"no runbook with id {runbook_id!r}", "runbook")
    return row


def matches(
    runbook_services: list[str], match: dict[str, str], service: str, labels: list[dict[str, str]]
) -> bool:
    """Whether a runbook fits an incident of `service` whose alerts carry `labels`: the service
    is one of the runbook's and some alert carries every `match` label (no labels: any)."""
    if service not in runbook_services:
        return False
    if not match:
        return True
    return any(all(lab.get(k) == v for k, v in match.items()) for lab in labels)


@dataclass(frozen=True)
class Matched:
    """A runbook that matches an incident: what a notification links to."""

    id: str
    title: str
    services: tuple[str, ...]
    match: dict[str, str]


def matched(session: Session, incident: Incident) -> list[Matched]:
    """The incident's runbooks, most specific first (more `match` labels), then by id. One
    query (its alerts' labels): the runbooks' index is kept between transactions until the
    configuration changes (`policy apply` bumps its version), since every page asks."""
    labels = [
        a or {}
        for a in session.scalars(select(Alert.labels).where(Alert.incident_id == incident.id))
    ]
    index = configured(session, "runbooks.index", None, lambda: _match_index(session))
    found = [r for r in index if matches(list(r.services), r.match, incident.service_id, labels)]
    return sorted(found, key=lambda r: (-len(r.match), r.id))


def for_incident(session: Session, incident: Incident) -> list[Runbook]:
    """The incident's runbook rows, in `matched` order; their text (the largest column) loads
    when shown."""
    order = [r.id for r in matched(session, incident)]
    if not order:
        return []
    rows = session.scalars(
        select(Runbook).where(Runbook.id.in_(order)).options(defer(Runbook.text))
    )
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in order if i in by_id]


def _match_index(session: Session) -> list[Matched]:
    rows = session.execute(
        select(Runbook.id, Runbook.title, Runbook.services, Runbook.match).where(Runbook.active)
    ).all()
    return [
        Matched(ident, title, tuple(services), dict(match))
        for ident, title, services, match in rows
    ]


# --- verdicts and tasks -----------------------------------------------------------------------


def give_feedback(
    session: Session,
    *,
    incident_id: int,
    runbook_id: str,
    verdict: str,
    missing: str | None,
    actor: str,
    now: datetime,
    due_days: int = DEFAULT_TASK_DUE_DAYS,
    channel: str = "api",
) -> RunbookFeedback:
    """Record whether `runbook_id` was enough to resolve the incident. "partly" and
    "not_enough" open a runbook task for the runbook's owner (or the one who says so, when it
    has none), due in `due_days` working days; giving a verdict again replaces the first.

    Raises:
        InvalidInput: an unknown verdict, or "partly"/"not_enough" without what was missing.
        NotFound: no such incident or runbook.
    """
    if verdict not in VERDICTS:
        raise InvalidInput("verdict must be enough, partly or not_enough", "verdict")
    missing = (missing or "").strip() or None
    if verdict != "enough" and missing is None:
        raise InvalidInput("say what was missing from the runbook", "missing")
    incident = locked(session, incident_id)
    runbook = get_runbook(session, runbook_id=runbook_id)
    row = session.scalars(
        select(RunbookFeedback).where(
            RunbookFeedback.incident_id == incident.id, RunbookFeedback.runbook_id == runbook.id
        )
    ).first()
    before = None if row is None else {"verdict": row.verdict}
    if row is None:
        row = RunbookFeedback(incident_id=incident.id, runbook_id=runbook.id)
        session.add(row)
    row.runbook_version, row.verdict, row.missing = runbook.version, verdict, missing
    row.given_by, row.given_at = actor, now
    session.flush()
    task = session.scalars(select(RunbookTask).where(RunbookTask.feedback_id == row.id)).first()
    if verdict != "enough" and task is None:
        owner = runbook.owner_id or (actor if session.get(Person, actor) else None)
        task = RunbookTask(
            runbook_id=runbook.id,
            incident_id=incident.id,
            feedback_id=row.id,
            owner_id=owner,
            missing=missing,
            status="open",
            due_at=_working_days(session, now, due_days),
            created_at=now,
        )
        session.add(task)
    elif task is not None and task.status == "open":
        task.missing = missing  # a changed verdict updates what the task asks for
        if verdict == "enough":
            task.status, task.closed_at, task.closed_by = "done", now, actor
    session.flush()
    timeline(
        session,
        incident,
        now=now,
        kind="runbook.feedback",
        actor=actor,
        channel=channel,
        runbook=runbook.id,
        version=runbook.version,
        verdict=verdict,
        missing=missing,
        task=task.id if task is not None else None,
    )
    audit.record(
        session,
        actor=actor,
        action="runbook.feedback",
        object_type="incident",
        object_id=str(incident.id),
        at=now,
        before=before,
        after={"runbook": runbook.id, "verdict": verdict},
    )
    return row


def _working_days(session: Session, now: datetime, count: int) -> datetime:
    org = session.scalars(select(Organization)).first()
    zone = org.timezone if org else "UTC"
    days = org.working_days if org else ["mon", "tue", "wed", "thu", "fri"]
    return localtime.add_working_days(now, count, zone, days)


def list_tasks(
    session: Session, *, status: str | None = None, runbook_id: str | None = None
) -> list[RunbookTask]:
    query = select(RunbookTask).order_by(RunbookTask.due_at, RunbookTask.id)
    if status:
        query = query.where(RunbookTask.status == status)
    if runbook_id:
        query = query.where(RunbookTask.runbook_id == runbook_id)
    return list(session.scalars(query))


def close_task(
    session: Session, *, task_id: int, link: str, actor: str, now: datetime
) -> RunbookTask:
    """Close a runbook task with a link to the change that fixed the runbook (a commit or a
    merge request, for a runbook kept elsewhere); records stage `runbook_updated`.

    Raises:
        InvalidInput: no link, or not an http(s) URL.
        InvalidTransition: the task is closed already.
    """
    link = (link or "").strip()
    if not link.startswith(("http://", "https://")) or len(link) > 2000:
        raise InvalidInput("link must be an http(s) URL to the runbook change", "link")
    task = session.get(RunbookTask, task_id)
    if task is None:
        raise NotFound(f"no runbook task with id {task_id}", "id")
    if task.status != "open":
        raise InvalidTransition(f"runbook task {task_id} is closed already", "status")
    _close(session, task, actor=actor, now=now, version=None, link=link)
    audit.record(
        session,
        actor=actor,
        action="runbook_task.close",
        object_type="runbook_task",
        object_id=str(task.id),
        at=now,
        after={"link": link},
    )
    session.flush()
    return task


def _close(
    session: Session,
    task: RunbookTask,
    *,
    actor: str,
    now: datetime,
    version: int | None,
    link: str | None,
) -> None:
    task.status, task.closed_at, task.closed_by = "done", now, actor
    task.closed_by_version, task.link = version, link
    incident = locked(session, task.incident_id)
    record_stage(incident, "runbook_updated", now)
    timeline(
        session,
        incident,
        now=now,
        kind="runbook.updated",
        actor=actor,
        channel="policy" if version is not None else "api",
        runbook=task.runbook_id,
        version=version,
        link=link,
        task=task.id,
    )


# --- effectiveness ----------------------------------------------------------------------------


@dataclass
class Effectiveness:
    runbook: Runbook
    incidents: int = 0
    verdicts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))
    median_resolve_enough_s: int | None = None
    median_resolve_not_enough_s: int | None = None
    open_tasks: int = 0
    overdue_tasks: int = 0
    last_change_age_s: int = 0

    @property
    def weakness(self) -> float:
        """Share of verdicts short of enough ("partly" counts half); unknown is 0."""
        total = sum(self.verdicts.values())
        if not total:
            return 0.0
        return (self.verdicts["not_enough"] + 0.5 * self.verdicts["partly"]) / total


def effectiveness(
    session: Session, *, now: datetime, runbook_id: str | None = None
) -> list[Effectiveness]:
    """Per runbook: incidents matched, verdicts, median time to resolve where the runbook was
    judged enough and where not, open (and overdue) tasks, age of the last change; weakest
    first (most verdicts short of enough, then most open tasks, then the oldest change).

    Matches are computed from the incidents of the runbooks' services and their alerts' labels
    (one query each), so a runbook's count includes incidents from before it existed."""
    books = [get_runbook(session, runbook_id=runbook_id)] if runbook_id else list_runbooks(session)
    out = {
        r.id: Effectiveness(r, last_change_age_s=int((now - r.changed_at).total_seconds()))
        for r in books
    }
    services = {s for r in books for s in r.services}
    if services:
        incidents = dict(
            session.execute(
                select(Incident.id, Incident.service_id).where(Incident.service_id.in_(services))
            ).all()
        )
        labels: dict[int, list[dict[str, str]]] = {i: [] for i in incidents}
        for incident_id, lab in session.execute(
            select(Alert.incident_id, Alert.labels).where(Alert.service_id.in_(services))
        ):
            labels.setdefault(incident_id, []).append(lab or {})
        by_service: dict[str, list[int]] = {}
        for iid, sid in incidents.items():
            by_service.setdefault(sid, []).append(iid)
        for r in books:
            mine = [iid for sid in set(r.services) for iid in by_service.get(sid, [])]
            if not r.match:  # every incident of its services
                out[r.id].incidents = len(mine)
                continue
            want = r.match.items()
            out[r.id].incidents = sum(
                1
                for iid in mine
                if any(all(lab.get(k) == v for k, v in want) for lab in labels.get(iid, []))
            )
    ids = list(out)
    resolve: dict[str, dict[bool, list[float]]] = {i: {True: [], False: []} for i in ids}
    for rid, verdict, created, resolved in session.execute(
        select(
            RunbookFeedback.runbook_id,
            RunbookFeedback.verdict,
            Incident.created_at,
            Incident.resolved_at,
        )
        .join(Incident, Incident.id == RunbookFeedback.incident_id)
        .where(RunbookFeedback.runbook_id.in_(ids))
    ):
        out[rid].verdicts[verdict] += 1
        if resolved is not None:
            resolve[rid][verdict == "enough"].append((resolved - created).total_seconds())
    for rid, due_at in session.execute(
        select(RunbookTask.runbook_id, RunbookTask.due_at).where(
            RunbookTask.runbook_id.in_(ids), RunbookTask.status == "open"
        )
    ):
        out[rid].open_tasks += 1
        out[rid].overdue_tasks += due_at < now
    for rid, times in resolve.items():
        if times[True]:
            out[rid].median_resolve_enough_s = int(statistics.median(times[True]))
        if times[False]:
            out[rid].median_resolve_not_enough_s = int(statistics.median(times[False]))
    return sorted(
        out.values(),
        key=lambda e: (-e.weakness, -e.open_tasks, -e.last_change_age_s, e.runbook.id),
    )
