"""Which engine this is, and which others are gone: an instance id (host, pid, a random boot
nonce) whose heartbeat row is renewed every tick, and the rule by which an instance's outbox
claims are orphaned: its heartbeat lapsed, or, at once, it ran on this machine and its process
is no longer there (a restart on the same machine)."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from onduty.db import dialect
from onduty.notify.models import EngineInstance


@dataclass(frozen=True)
class Identity:
    """`host` names the machine and its process namespace, where `pid` means something;
    `started` is the process's start time where the system tells it ("" where it does not), so
    a pid reused by another process is not taken for the engine that had it."""

    id: str
    host: str
    pid: int
    started: str


def this_process() -> Identity:
    pid = os.getpid()
    name = socket.gethostname()[:60]
    return Identity(f"{name}:{pid}:{secrets.token_hex(4)}", host_key(), pid, process_start(pid))


def host_key() -> str:
    """The host name, and on Linux the boot id and pid namespace: two containers may share a
    host name or a kernel, but pids are comparable only within one namespace of one boot."""
    parts = [socket.gethostname()[:200]]
    try:
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        pass  # not Linux: the host name alone
    return "/".join(parts)


def _stat(pid: int) -> list[str]:
    """Fields 3.. of /proc/<pid>/stat (after the command name, which may hold spaces)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (stat field 22), or ""."""
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else ""


def alive(pid: int, started: str) -> bool:
    """Whether the process `pid` on this machine is still the one that started at `started`."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, as another user
    fields = _stat(pid)
    if fields and fields[0] in ("Z", "X"):
        return False  # killed, not yet reaped by its parent
    now_started = process_start(pid)
    return not (started and now_started and now_started != started)


def gone(row: EngineInstance, me: Identity, now: datetime) -> bool:
    """Whether the instance `row` is dead, as seen by `me` at `now`."""
    if row.id == me.id:
        return False
    if row.expires_at < now:
        return True
    return row.host == me.host and not alive(row.pid, row.started)


def renew(session: Session, me: Identity, *, now: datetime, ttl: timedelta) -> None:
    """Write (or renew) this instance's heartbeat: alive until `now + ttl`."""
    result = session.execute(
        update(EngineInstance)
        .where(EngineInstance.id == me.id)
        .values(heartbeat_at=now, expires_at=now + ttl)
    )
    if not getattr(result, "rowcount", 0):
        session.execute(
            dialect.insert_new(session, EngineInstance).values(
                id=me.id,
                host=me.host,
                pid=me.pid,
                started=me.started,
                heartbeat_at=now,
                expires_at=now + ttl,
            )
        )


def retire(session: Session, ids: list[str]) -> None:
    if ids:
        session.execute(delete(EngineInstance).where(EngineInstance.id.in_(ids)))
