"""User-written Markdown (status updates, runbooks, postmortems, handovers) to safe HTML.

markdown-it-py parses CommonMark with raw HTML turned off, and nh3 (ammonia) then keeps only
an allow-list of tags and attributes and only http(s)/mailto links, so script, iframes,
event handlers and javascript: URLs never reach a page or a mail, whatever the parser does."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th",
    "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "code": {"class"}}


def to_html(text: str) -> str:
    """`text` as sanitised HTML, safe to put in a page or a mail as it is."""
    return sanitise(_MD.render(text))


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
