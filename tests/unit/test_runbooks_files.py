"""Runbook files, without a database: front matter and sections parsed, errors at FILE:LINE,
and the folder checked against the policy (unknown services and owners, services without a
runbook, empty Steps, broken relative links)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.policy_cases import EXAMPLE

from onduty.policy import load_file
from onduty.runbooks.lint import lint_runbooks
from onduty.runbooks.parse import RunbookError, parse_runbook, template

GOOD = """---
services: [storefront]
match: {alertname: CheckoutDown}
owner: asha
---
# Checkout down

## Scope
Orders.

## Steps

1. Roll back.

## Infrastructure

```mermaid
graph LR
## Steps inside a code block is not a heading
```
"""


def test_front_matter_sections_and_title() -> None:
    rb = parse_runbook("checkout-down", GOOD)
    assert (rb.services, rb.match, rb.owner, rb.title) == (
        ["storefront"],
        {"alertname": "CheckoutDown"},
        "asha",
        "Checkout down",
    )
    assert rb.sections["Steps"] == "1. Roll back."
    assert "inside a code block" in rb.sections["Infrastructure"]
    assert rb.section_lines["Steps"] == 11
    assert rb.lines["owner"] == 4
    assert len(rb.content_hash) == 64
    assert parse_runbook("checkout-down", GOOD + "\n").content_hash != rb.content_hash


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("# no front matter\n", 1, "starts with front matter"),
        ("---\nservices: [a]\n# never closed\n", 1, "closing '---'"),
        ("---\nservices: [a]\nowner: [x, y]\n---\n", 3, "owner"),
        ("---\nservices: [a]\ncolour: red\n---\n", 3, "unknown key 'colour'"),
        ("---\nmatch: {a: b}\n---\n", 2, "missing required key 'services'"),
        ("---\nservices: [a\n---\n", 3, "invalid YAML"),
    ],
)
def test_front_matter_errors_name_their_line(text: str, line: int, words: str) -> None:
    with pytest.raises(RunbookError) as caught:
        parse_runbook("x", text)
    assert any(n == line and words in m for n, m in caught.value.problems), caught.value.problems


def test_the_template_parses_with_every_section() -> None:
    rb = parse_runbook("storefront", template("storefront", owner="asha"))
    assert set(rb.sections) == {"Scope", "FAQs", "Diagnostics", "Steps", "Infrastructure"}
    assert rb.services == ["storefront"] and rb.owner == "asha"


def test_the_demo_folder_lints_clean() -> None:
    policy, lines = load_file(EXAMPLE)
    assert lint_runbooks(policy, EXAMPLE, lines) == []


def test_folder_problems_at_file_and_line(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE.parent, tmp_path, dirs_exist_ok=True)
    folder = tmp_path / "runbooks"
    (folder / "search.md").unlink()
    (folder / "payments.md").write_text(
        "---\nservices: [payments, nope]\nowner: ghost\n---\n# P\n\n## Steps\n\n"
        "See [the guide](guide.md) and ![d](img/d.png), [web](https://x.example/a.md).\n"
    )
    (folder / "catalog-web.md").write_text("---\nservices: [catalog-web]\n---\n## Steps\n\n")
    (folder / "broken.md").write_text("---\nservices: [storefront\n---\n")
    policy, lines = load_file(tmp_path / "policy.yaml")
    got = {
        p.format("policy.yaml").replace(str(folder) + "/", "")
        for p in lint_runbooks(policy, tmp_path / "policy.yaml", lines)
    }
    search_line = lines.of(("services", 2, "id"))
    assert got == {
        "payments.md:2: runbook 'payments': unknown service 'nope'",
        "payments.md:3: runbook 'payments': unknown owner 'ghost'",
        "payments.md:9: runbook 'payments': broken link 'guide.md'",
        "payments.md:9: runbook 'payments': broken image 'img/d.png'",
        "catalog-web.md:4: warning: runbook 'catalog-web': its Steps section is empty",
        "broken.md:3: invalid YAML: expected ',' or ']', but got '<stream end>'",
        f"policy.yaml:{search_line}: warning: service 'search' has no runbook",
    }


def test_a_missing_folder_is_one_error(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "policy.yaml")
    policy, lines = load_file(tmp_path / "policy.yaml")
    [problem] = lint_runbooks(policy, tmp_path / "policy.yaml", lines)
    assert problem.severity == "error" and "is not a folder" in problem.message
    assert problem.line == lines.of(("runbooks",))


def test_runbook_html_is_sanitised_and_shows_diagrams() -> None:
    from onduty.runbooks.parse import to_html

    text = (
        "---\nservices: [s]\n---\n## Infrastructure\n\n"
        "```mermaid\ngraph LR\n  a --> b\n```\n\n"
        "![Architecture](https://docs.example/arch.png) [next](payments.md#steps)\n\n"
        '<script>alert(1)</script> <iframe src="https://evil.example"></iframe> '
        "[click](javascript:alert(1))\n"
    )
    html = to_html(text)
    assert '<figure class="diagram diagram-mermaid"><figcaption>Diagram (Mermaid)' in html
    assert "a --&gt; b" in html
    assert 'Diagram: <a href="https://docs.example/arch.png"' in html and "<img" not in html
    assert 'href="/runbooks/payments#steps"' in html
    assert "<script" not in html and "<iframe" not in html and 'href="javascript' not in html
    assert "services:" not in html  # the front matter is not shown
