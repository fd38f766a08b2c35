"""User-written Markdown (status updates, runbooks, postmortems, handovers) to safe HTML.

markdown-it-py parses CommonMark with raw HTML turned off, and nh3 (ammonia) then keeps only
an allow-list of tags and attributes and only http(s)/mailto links, so script, iframes,
event handlers and javascript: URLs never reach a page or a mail, whatever the parser does."""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th",
    "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "code": {"class"}}


_MERMAID = re.compile(r'<pre><code class="language-mermaid">(.*?)</code></pre>', re.S)
_IMG = re.compile(r"<img ([^>]*)>")
_ATTR = re.compile(r'(\w+)="([^"]*)"')


def to_html(text: str, *, diagrams: bool = False) -> str:
    """`text` as sanitised HTML, safe to put in a page or a mail as it is.

    With `diagrams` (runbooks' infrastructure diagrams), a Mermaid code block becomes a figure
    captioned as a Mermaid diagram, and an image becomes a figure linking to it: the pages'
    Content-Security-Policy loads no image from other sites, so the link opens it instead.
    Both rewrite the already sanitised HTML, adding only fixed markup and attribute values nh3
    has already escaped."""
    out = sanitise(_MD.render(text))
    if diagrams:
        out = _MERMAID.sub(_mermaid, out)
        out = _IMG.sub(_image, out)
    return out


def _mermaid(match: re.Match[str]) -> str:
    return (
        '<figure class="diagram diagram-mermaid"><figcaption>Diagram (Mermaid)</figcaption>'
        f'<pre class="mermaid"><code class="language-mermaid">{match.group(1)}</code></pre>'
        "</figure>"
    )


def _image(match: re.Match[str]) -> str:
    attrs = dict(_ATTR.findall(match.group(1)))
    src = attrs.get("src", "")
    alt = attrs.get("alt") or html.escape(src, quote=True)
    if not src:
        return alt
    return (
        f'<span class="diagram diagram-image">Diagram: <a href="{src}" '
        f'rel="noopener noreferrer nofollow">{alt}</a></span>'
    )


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
