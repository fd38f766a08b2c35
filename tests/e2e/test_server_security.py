"""A real `onduty serve`: secrets stay out of its access log, a sign-in never stalls it, and
the demo signs with a secret of its own and stays on loopback unless told."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import stat
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from argon2 import PasswordHasher
from tests.e2e.conftest import ONDUTY, Server, free_port
from tests.scenario import alertmanager
from tests.ui_helpers import PASSWORD

from onduty.config import DEMO_SECRET
from onduty.db import make_engine, make_session_factory
from onduty.people.models import Login

KEY = "acmestorefrontalertmanager0001"  # the storefront's Alertmanager integration in Acme


def test_the_access_log_holds_no_url_secret(server: Server, tmp_path: Path) -> None:
    feed_token = "f" * 40
    link_token = "eyJhIjoiYWNrbm93bGVkZ2UifQ.0123456789abcdef"
    with httpx.Client(base_url=server.base) as client:
        assert client.post(f"/integrations/{KEY}", content=alertmanager("Disk")).status_code == 202
        assert client.get(f"/actions/{link_token}").status_code == 404
        assert client.post(f"/actions/{link_token}").status_code == 404
        assert client.get(f"/ical/team/checkout.ics?weeks=2&token={feed_token}").status_code == 404
        assert client.post(f"/integrations/twilio/voice/{link_token}").status_code == 404
        assert client.post("/integrations/slack/interactions").status_code == 404
    log = ""
    deadline = time.monotonic() + 10
    while "slack/interactions" not in log and time.monotonic() < deadline:
        time.sleep(0.1)
        log = (tmp_path / "server.log").read_text()
    for secret in (KEY, feed_token, link_token, link_token.split(".")[0]):
        assert secret not in log
    assert '"POST /integrations/*** HTTP/1.1" 202' in log
    assert '"GET /actions/*** HTTP/1.1" 404' in log
    assert '"GET /ical/team/checkout.ics?weeks=2&token=*** HTTP/1.1" 404' in log
    assert '"POST /integrations/twilio/voice/*** HTTP/1.1" 404' in log
    assert '"POST /integrations/slack/interactions HTTP/1.1" 404' in log  # no secret: kept


def test_a_slow_password_check_does_not_stall_the_server(server: Server, db_url: str) -> None:
    """A login whose argon2 hash takes seconds to check (120 passes, as a login hashed with
    stronger settings could have): while a sign-in checks it, /healthz keeps answering. With
    argon2 on the event loop, every request waited for the check to end."""
    slow = PasswordHasher(time_cost=120, memory_cost=16384, parallelism=1).hash(PASSWORD)
    engine = make_engine(db_url)
    with make_session_factory(engine)() as s, s.begin():
        s.add(
            Login(username="slow", password_hash=slow, role="viewer", created_at=datetime.now(UTC))
        )
    engine.dispose()
    outcome: list[tuple[int, float]] = []

    def sign_in() -> None:
        started = time.perf_counter()
        answer = httpx.post(
            f"{server.base}/login", data={"username": "slow", "password": "wrong"}, timeout=300
        )
        outcome.append((answer.status_code, time.perf_counter() - started))

    with httpx.Client(base_url=server.base, timeout=300) as probe:
        probe.get("/healthz")
        attempt = threading.Thread(target=sign_in)
        attempt.start()
        time.sleep(0.2)  # the password is being checked by now
        waits = []
        while attempt.is_alive():
            started = time.perf_counter()
            assert probe.get("/healthz").status_code == 200
            waits.append(time.perf_counter() - started)
            time.sleep(0.05)
        attempt.join()
    [(status, took)] = outcome
    assert status == 401 and took > 1.0, outcome  # the check is slow: the test means something
    # On the event loop a probe waited about as long as the whole check; here only as long as
    # the machine's load makes any request wait (0.1-1.6 s on the busy 2-core test machine).
    assert len(waits) >= 3 and max(waits) < took / 2, (took, sorted(waits)[-5:])


def forged_cookie(secret: str, login_id: int) -> str:
    """A session cookie as onduty signs one, made by someone who knows `secret`."""
    raw = json.dumps({"l": login_id, "v": 0, "e": int(time.time()) + 3600, "c": "x"}).encode()
    payload = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{mac}"


def demo_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONDUTY_")}
    env["ONDUTY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.db'}"
    return env


def test_the_demo_signs_with_its_own_secret_kept_beside_its_database(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "out.log").open("w+")
    proc = subprocess.Popen(
        [ONDUTY, "serve", "--demo", "--port", str(port), "--no-engine"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=demo_env(tmp_path),
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "out.log").read_text()
            assert time.monotonic() < deadline, "the demo did not answer within 60 s"
            time.sleep(0.2)
        secret_file = tmp_path / "demo.db.secret"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        secret = secret_file.read_text().strip()
        assert len(secret) >= 40 and secret != DEMO_SECRET
        with httpx.Client(base_url=base) as attacker:
            attacker.cookies.set("onduty_session", forged_cookie(DEMO_SECRET, 1))
            answer = attacker.get("/tokens", follow_redirects=False)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
        password = re.search(r"login: admin / (\S+)", (tmp_path / "out.log").read_text())
        assert password
        with httpx.Client(base_url=base) as admin:
            signed = admin.post("/login", data={"username": "admin", "password": password[1]})
            assert signed.status_code == 303
            assert admin.get("/tokens").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_the_demo_refuses_a_non_loopback_host_unless_told(tmp_path: Path) -> None:
    refused = subprocess.run(
        [ONDUTY, "serve", "--demo", "--host", "0.0.0.0", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=demo_env(tmp_path),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "error: --demo listens on loopback only, not 0.0.0.0: pass --allow-remote to serve the "
        "demo to other machines"
    )
    assert not (tmp_path / "demo.db").exists()  # refused before anything was made
