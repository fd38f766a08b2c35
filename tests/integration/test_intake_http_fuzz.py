"""Fuzz both inbound endpoints over HTTP: random bytes, random JSON, real payloads with random
parts replaced, odd headers. Never a 5xx, and a rejected request stores nothing."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_intake_http import (
    AM_KEY,
    GCP_KEY,
    GENERIC_KEY,
    GRAFANA_KEY,
    PD_KEY,
    counts,
)
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example

from onduty import models as m

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
TARGETS = {
    "alertmanager": f"/integrations/{AM_KEY}",
    "gcp": f"/integrations/{GCP_KEY}",
    "grafana": f"/integrations/{GRAFANA_KEY}",
    "generic": f"/integrations/{GENERIC_KEY}",
    "pagerduty": "/v2/enqueue",
}


def _documents() -> list[tuple[str, Any]]:
    docs = []
    for path in sorted(PAYLOADS.glob("*.json")):
        kind = path.name.split("_")[0]
        try:
            doc = json.loads(path.read_bytes())
        except ValueError:
            continue
        if kind == "pagerduty" and isinstance(doc, dict):
            doc["routing_key"] = PD_KEY
        docs.append((kind, doc))
    return docs


DOCUMENTS = _documents()
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["firing", "resolved", "trigger", "resolve", "acknowledge", "OPEN", PD_KEY])
)
JSONS = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=15,
)
HEADER_VALUE = st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=40)
HEADERS = st.dictionaries(
    st.sampled_from(
        ["content-type", "content-encoding", "user-agent", "x-forwarded-for", "authorization"]
    ),
    HEADER_VALUE,
    max_size=3,
)


def mutate(doc: Any, data: st.DataObject) -> Any:
    """Replace, drop or retype one value somewhere in `doc`."""
    if isinstance(doc, dict) and doc and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(doc)))
        choice = data.draw(st.sampled_from(["replace", "drop", "descend"]))
        if choice == "drop":
            return {k: v for k, v in doc.items() if k != key}
        value = mutate(doc[key], data) if choice == "descend" else data.draw(JSONS)
        return {**doc, key: value}
    if isinstance(doc, list) and doc and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(doc) - 1))
        return [mutate(v, data) if i == index else v for i, v in enumerate(doc)]
    return data.draw(JSONS) if data.draw(st.booleans()) else doc


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), headers=HEADERS)
def test_inbound_endpoints_never_fail_and_store_nothing_when_rejecting(
    client: TestClient,
    session_factory: sessionmaker[Session],
    data: st.DataObject,
    headers: dict[str, str],
) -> None:
    # Function-scoped fixtures live across all examples: set the world up once.
    if not _applied(session_factory):
        apply_doc(session_factory, example())
        client.app.state.settings.integration_rate_limit = 10_000  # type: ignore[attr-defined]
    shape = data.draw(st.sampled_from(["bytes", "json", "mutated", "mutated", "mutated"]))
    kind = data.draw(st.sampled_from(sorted(TARGETS)))
    if shape == "bytes":
        body = data.draw(st.binary(max_size=300))
    elif shape == "json":
        body = json.dumps(data.draw(JSONS)).encode()
    else:
        source, doc = data.draw(st.sampled_from(DOCUMENTS))
        kind = data.draw(st.sampled_from([source, source, kind]))
        for _ in range(data.draw(st.integers(1, 3))):
            doc = mutate(doc, data)
        body = json.dumps(doc, allow_nan=True).encode()
    before = counts(session_factory)
    answer = client.post(TARGETS[kind], content=body, headers=headers)
    event(f"{kind} {answer.status_code}")
    assert answer.status_code < 500, answer.text
    assert answer.status_code in (202, 400, 404, 413, 422, 429), answer.text
    if answer.status_code != 202:
        assert counts(session_factory) == before
        assert answer.json()["error"] and "field" in answer.json()


def _applied(session_factory: sessionmaker[Session]) -> bool:
    with session_factory() as s:
        return s.scalars(select(m.Integration.id)).first() is not None
