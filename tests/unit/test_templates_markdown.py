"""Communication templates in Jinja2's sandbox, and user Markdown sanitised for pages and mails."""

from html.parser import HTMLParser

import pytest
from tests.policy_cases import EXAMPLE, NOW

from onduty import markdown
from onduty.notify import templates
from onduty.policy.lint import lint
from onduty.policy.loader import parse_text


def test_every_key_has_a_default_that_renders_in_the_seed_words() -> None:
    status = dict.fromkeys(templates.VARIABLES["client_email"], "x")
    status["components"] = "Web shop"
    text = templates.render("status_investigating", {}, **status)
    assert text == (
        "We are aware of a problem with Web shop. The team is looking into this and will get "
        "back with a resolution."
    )
    for key in templates.KEYS:
        assert templates.check(key, templates.DEFAULTS[key]) is None, key


def test_the_policy_text_replaces_the_default() -> None:
    out = templates.render(
        "status_update", {"status_update": "Still on {{ components }}."}, components="Payments"
    )
    assert out == "Still on Payments."


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("fine\n{% if %}", 2, "Expected an expression"),
        ("Hello {{ customer }}", 1, "unknown variable 'customer'"),
    ],
)
def test_check_finds_syntax_errors_and_unknown_variables(
    source: str, line: int, words: str
) -> None:
    problem = templates.check("status_update", source)
    assert problem is not None and problem.line == line and words in problem.message


def test_the_sandbox_refuses_template_injection() -> None:
    with pytest.raises(templates.TemplateProblem, match="unsafe"):
        templates.render(
            "status_update", {"status_update": "{{ body.__class__.__mro__ }}"}, body="x"
        )


def test_lint_reports_a_broken_template_at_its_line() -> None:
    text = EXAMPLE.read_text().rstrip("\n") + '\ntemplates:\n  status_update: "{{ nope }}"\n'
    policy, lines = parse_text(text)
    problems = [p for p in lint(policy, lines, now=NOW) if "template" in p.message]
    assert len(problems) == 1
    assert problems[0].severity == "error"
    assert problems[0].line == len(text.splitlines())
    assert "unknown variable 'nope'" in problems[0].message


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<iframe src="https://evil.example"></iframe>',
        "[click](javascript:alert(1))",
        '<img src=x onerror="alert(1)">',
        "![x](javascript:alert(1))",
    ],
)
def test_markdown_is_sanitised(hostile: str) -> None:
    html = markdown.to_html(f"**Steps**\n\n{hostile}")
    assert "<strong>Steps</strong>" in html
    tags = _tags(html)
    assert not {"script", "iframe"} & {tag for tag, _ in tags}
    for _tag, attrs in tags:
        for name, value in attrs:
            assert not name.startswith("on"), html
            assert not (value or "").strip().lower().startswith("javascript:"), html


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collect().feed(html)
    return found


def test_markdown_keeps_links_images_tables_and_code() -> None:
    html = markdown.to_html(
        "[dash](https://grafana.example/d/1)\n\n![diagram](https://x.example/d.png)\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n```\nkubectl get pods\n```\n"
    )
    assert 'href="https://grafana.example/d/1"' in html
    assert 'src="https://x.example/d.png"' in html
    assert "<table>" in html and "<pre><code>kubectl get pods" in html
