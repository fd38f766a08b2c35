"""Real processes for end-to-end tests: `onduty serve` on a free port over the test database,
and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from tests.channel_servers import WebhookReceiver
from tests.policy_cases import EXAMPLE
from tests.ui_helpers import PASSWORD

if TYPE_CHECKING:
    from tests.e2e.processes import Processes

ONDUTY = str(Path(sys.executable).parent / "onduty")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    base: str
    env: dict[str, str]

    def cli(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [ONDUTY, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    """`onduty serve` with the Acme policy applied and three logins: boss, asha, guest."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONDUTY_")}
    env.update(
        ONDUTY_DATABASE_URL=db_url,
        ONDUTY_SECRET_KEY="e2e-secret-key-0123456789abcdef",
        ONDUTY_BASE_URL=f"http://127.0.0.1:{port}",
        ONDUTY_ENGINE_TICK="200ms",
    )
    srv = Server(f"http://127.0.0.1:{port}", env)
    srv.cli("policy", "apply", str(EXAMPLE))
    for username, role, person in (
        ("boss", "admin", None),
        ("asha", "responder", "asha"),
        ("guest", "viewer", None),
    ):
        args = ["user", "create", username, "--role", role, "--password-stdin"]
        srv.cli(*args, *(["--person", person] if person else []), stdin=PASSWORD + "\n")
    log = (tmp_path / "server.log").open("w+")
    proc = subprocess.Popen(
        [ONDUTY, "serve", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{srv.base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield srv
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


# Per module: the Playwright loop must not outlive the browser tests (later tests run their
# own event loops on this thread).
@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed for browser tests: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def procs(db_url: str, tmp_path: Path) -> Iterator[Processes]:
    from tests.e2e.processes import Processes  # it imports this module

    p = Processes(db_url, tmp_path)
    yield p
    p.stop_all()
