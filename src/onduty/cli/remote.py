"""The responder's commands through a server's HTTP API (/api/v1), with an API token from
ONDUTY_TOKEN or the credentials file `onduty login` writes. Every failure the person can act on
(server unreachable, token refused, role not enough, bad input) becomes one CliError line."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from onduty.cli.backend import (
    AlertDoc,
    EventDoc,
    Handover,
    IncidentDetailDoc,
    IncidentDoc,
    OverrideRow,
    Shift,
    Zones,
    environment,
)
from onduty.cli.common import CliError

# httpx imports its own command line (click, rich's syntax highlighting, pygments) when it can,
# which costs nearly as much as the rest of httpx; this process never runs it. A None entry
# makes that one optional import fail, which httpx expects and handles.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
import httpx  # noqa: E402

TIMEOUT_S = 10.0


def credentials_file() -> Path:
    """Where `onduty login` keeps tokens: $XDG_CONFIG_HOME/onduty/credentials."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "onduty" / "credentials"


def server_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CliError(f"--server: {text!r} is not an http:// or https:// URL")
    return text.strip().rstrip("/")


def _saved() -> dict[str, str]:
    path = credentials_file()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CliError(f"{path}: cannot read the saved tokens ({exc})") from None
    return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}


def save_token(url: str, token: str) -> Path:
    """Keep `token` for `url`, readable by this user only (0600, in a 0700 folder)."""
    path = credentials_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tokens = _saved()
    tokens[url] = token
    # Written beside and renamed over, so a reader never sees half a file; created 0600, so the
    # token is never readable by others, not even for a moment.
    partial = path.with_name(path.name + ".new")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(tokens, f, indent=2, sort_keys=True)
    os.chmod(partial, 0o600)
    os.replace(partial, path)
    return path


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _shift(doc: dict[str, Any]) -> Shift:
    return Shift(
        doc["team"],
        doc["slot"],
        doc["person"],
        _time(doc["start"]),
        _time(doc["end"]),
        doc["source"],
    )


def _override(doc: dict[str, Any]) -> OverrideRow:
    return OverrideRow(
        id=doc["id"],
        team=doc["team"],
        slot=doc["slot"],
        person=doc["person"],
        start=_time(doc["start"]),
        end=_time(doc["end"]),
        reason=doc["reason"],
        created_by=doc["created_by"],
        managed=doc["managed"],
    )


def _incident(doc: dict[str, Any]) -> IncidentDoc:
    return {
        "id": doc["id"],
        "number": doc["number"],
        "title": doc["title"],
        "status": doc["status"],
        "priority": doc["priority"],
        "service": doc["service"],
        "team": doc["team"],
        "discipline": doc["discipline"],
        "backlog": doc["backlog"],
        # The same spelling as the database's datetime gives locally ("+00:00", not "Z").
        "created_at": _time(doc["created_at"]).isoformat(),
        "acknowledged_by": doc["acknowledged_by"],
        "resolved_by": doc["resolved_by"],
    }


def _message(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        return str(doc["error"])
    return f"the server answered {response.status_code} {response.reason_phrase}"


class HttpBackend:
    def __init__(self, url: str, client: httpx.Client) -> None:
        self.url = url
        self.client = client

    @classmethod
    @contextmanager
    def open(cls, server: str, token: str | None = None) -> Iterator[HttpBackend]:
        """A client for `server` with `token`, else ONDUTY_TOKEN, else the saved one."""
        url = server_url(server)
        token = token or environment("TOKEN") or _saved().get(url)
        if not token:
            raise CliError(
                f"no API token for {url}: set ONDUTY_TOKEN or run `onduty login --server {url}`"
            )
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        with httpx.Client(base_url=url, headers=headers, timeout=TIMEOUT_S) as client:
            yield cls(url, client)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, f"/api/v1{path}", **kwargs)
        except httpx.TimeoutException:
            raise CliError(f"{self.url} did not answer within {TIMEOUT_S:g} s") from None
        except httpx.HTTPError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CliError(f"cannot reach {self.url}: {reason}") from None
        if response.status_code == 401:
            raise CliError(f"{self.url} refused the token: {_message(response)}")
        if response.status_code >= 400:
            raise CliError(_message(response))
        if response.status_code == 204:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"{self.url} did not answer with JSON: is it an onduty server?"
            ) from None

    def zones(self) -> Zones:
        doc = self._call("GET", "/timezones")
        return Zones(doc["organization"], dict(doc["teams"]))

    def on_call(self, *, team: str | None, at: datetime | None) -> list[Shift]:
        params = {k: v for k, v in (("team", team), ("at", at and at.isoformat())) if v}
        return [_shift(d) for d in self._call("GET", "/oncall", params=params)]

    def shifts(self, *, team: str, weeks: int) -> dict[str, list[Shift]]:
        doc = self._call("GET", f"/teams/{quote(team, safe='')}/shifts", params={"weeks": weeks})
        return {slot: [_shift(d) for d in rows] for slot, rows in doc.items()}

    def overrides(self, *, team: str | None) -> list[OverrideRow]:
        params = {"team": team} if team else {}
        return [_override(d) for d in self._call("GET", "/overrides", params=params)]

    def add_override(
        self,
        *,
        team: str,
        slot: str,
        person: str,
        start: datetime,
        end: datetime,
        reason: str | None,
    ) -> OverrideRow:
        body = {
            "team": team,
            "slot": slot,
            "person": person,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "reason": reason,
        }
        return _override(self._call("POST", "/overrides", json=body))

    def remove_override(self, override_id: int) -> None:
        self._call("DELETE", f"/overrides/{override_id}")

    def swap(self, *, team: str, slot: str, first: datetime, second: datetime) -> list[OverrideRow]:
        body = {
            "team": team,
            "slot": slot,
            "first": first.isoformat(),
            "second": second.isoformat(),
        }
        return [_override(d) for d in self._call("POST", "/swaps", json=body)]

    def incidents(
        self,
        *,
        status: str | None,
        team: str | None,
        service: str | None,
        stage: str | None = None,
    ) -> list[IncidentDoc]:
        asked = (("status", status), ("team", team), ("service", service), ("stage", stage))
        params = {k: v for k, v in asked if v}
        return [_incident(d) for d in self._call("GET", "/incidents", params=params)]

    def incident(self, incident_id: int) -> IncidentDetailDoc:
        doc = self._call("GET", f"/incidents/{incident_id}")
        alerts: list[AlertDoc] = [
            {
                "dedup_key": a["dedup_key"],
                "status": a["status"],
                "count": a["count"],
                "summary": a["summary"],
            }
            for a in doc["alerts"]
        ]
        timeline: list[EventDoc] = [
            {
                "at": _time(e["at"]).isoformat(),
                "kind": e["kind"],
                "actor": e["actor"],
                "channel": e["channel"],
            }
            for e in doc["timeline"]
        ]
        return {**_incident(doc), "alerts": alerts, "timeline": timeline}

    def act(self, action: str, incident_id: int, *, person: str | None) -> int:
        if person is not None:
            raise CliError("--as: with --server, the person acting is the token's")
        doc = self._call("POST", f"/incidents/{incident_id}/{action}")
        return int(doc["number"])

    def handover(self, incident_id: int, handover: Handover, *, person: str | None) -> int:
        if person is not None:
            raise CliError("--as: with --server, the person acting is the token's")
        doc = self._call("POST", f"/incidents/{incident_id}/handover", json=dict(handover))
        return int(doc["number"])

    def dry_run(self, *, service: str, priority: str, at: datetime | None) -> list[dict[str, Any]]:
        params = {"service": service, "priority": priority}
        if at is not None:
            params["at"] = at.isoformat()
        return list(self._call("GET", "/dryrun", params=params))

    def checks(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/checks"))

    def tick(self, check_id: str, item: str, *, person: str | None) -> dict[str, Any]:
        if person is not None:
            raise CliError("--as: with --server, the person acting is the token's")
        return dict(
            self._call("POST", f"/checks/{quote(check_id, safe='')}/tick", json={"item": item})
        )

    def report(self, *, team: str | None, since: str | None, until: str | None) -> dict[str, Any]:
        params = {k: v for k, v in (("team", team), ("since", since), ("until", until)) if v}
        return dict(self._call("GET", "/reports/oncall", params=params))

    def handovers(self, *, team: str) -> list[dict[str, Any]]:
        return list(self._call("GET", "/handovers", params={"team": team}))

    def check(self) -> None:
        """Ask for something every token may read: a refused token or a wrong URL shows now."""
        self._call("GET", "/timezones")
