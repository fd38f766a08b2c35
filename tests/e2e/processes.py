"""onduty as real processes for end-to-end tests: the CLI, `serve` and `engine` started with
one environment, a policy whose people all have a webhook to a local receiver, and what that
receiver got."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from tests.channel_servers import WebhookReceiver
from tests.e2e.conftest import ONDUTY, free_port
from tests.policy_cases import example


def webhook_policy(receiver: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    doc = example()
    for person in doc["people"]:
        person["contact_methods"] = [
            {"id": "hook", "type": "webhook", "url": f"{receiver}/hooks/{person['id']}"}
        ]
        person["notification_rules"] = [{"after": "0m", "via": "hook"}]
    doc["escalation_policies"][0]["steps"] = steps
    doc["escalation_policies"][0]["repeat"] = 0
    return doc


class Processes:
    def __init__(self, db_url: str, tmp: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ONDUTY_")}
        self.port = free_port()
        self.env.update(
            ONDUTY_DATABASE_URL=db_url,
            ONDUTY_SECRET_KEY="process-secret-0123456789abcdef",
            ONDUTY_BASE_URL=f"http://127.0.0.1:{self.port}",
            ONDUTY_ENGINE_TICK="200ms",
        )
        self.tmp = tmp
        self.running: list[subprocess.Popen[bytes]] = []
        self.logs: list[Any] = []

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [ONDUTY, *args], capture_output=True, text=True, env=self.env, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"proc{len(self.running)}.log").open("wb")
        self.logs.append(log)
        proc = subprocess.Popen([ONDUTY, *args], stdout=log, stderr=subprocess.STDOUT, env=self.env)
        self.running.append(proc)
        return proc

    def serve(self, *extra: str) -> subprocess.Popen[bytes]:
        proc = self.start("serve", "--port", str(self.port), *extra)
        wait_for(lambda: _up(f"http://127.0.0.1:{self.port}/healthz"), 60, "server start")
        return proc

    def stop_all(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for log in self.logs:
            log.close()


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def pages(receiver: WebhookReceiver) -> list[tuple[Any, ...]]:
    out = []
    for r in receiver.requests:
        body = r.json()
        out.append(
            (body["incident"]["id"], body["step"], body["recipient"], body["idempotency_key"])
        )
    return out
