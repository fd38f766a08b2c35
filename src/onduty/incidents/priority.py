"""Pure triage arithmetic: criticality rules to a priority, rule shadowing, working hours.

No database and no clock: callers pass the facts and the instant. Local wall-clock times become
instants by `onduty.localtime`'s rule, the rota's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from onduty import localtime
from onduty.errors import InvalidInput

PRIORITIES = ("P1", "P2", "P3", "P4")
DEFAULT_PRIORITY = "P3"
"""What `match` answers when no rule matches: SPEC §1 sends unclassified work to the backlog."""

_WORD = re.compile(r"\w+")


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.casefold()))


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    """Whether `needle` occurs as a contiguous run of whole words in `haystack`."""
    width = len(needle)
    return any(haystack[i : i + width] == needle for i in range(len(haystack) - width + 1))


@dataclass(frozen=True)
class Rule:
    """One criticality rule: every condition given must hold; None means "any".

    Set conditions match when the fact is one of the listed values (exact, case-sensitive).
    `labels` match when every listed label has exactly that value. `words` match when any of
    them (a word or a phrase of words) occurs in the summary as whole words, ignoring case.
    `min_affected_clients` matches when at least that many clients are affected. A fact that
    is unknown (None) never satisfies a condition on it.
    """

    priority: str
    service: frozenset[str] | None = None
    severity: frozenset[str] | None = None
    labels: Mapping[str, str] | None = None
    channel: frozenset[str] | None = None
    client_tier: frozenset[str] | None = None
    words: frozenset[str] | None = None
    min_affected_clients: int | None = None

    def __post_init__(self) -> None:
        if self.priority not in PRIORITIES:
            raise InvalidInput(
                f"priority must be one of P1, P2, P3, P4, not {self.priority!r}", "priority"
            )
        for name in ("service", "severity", "channel", "client_tier", "words"):
            value = getattr(self, name)
            if value is not None and not value:
                # An empty list can never match; more likely a mistake than an intent.
                raise InvalidInput(f"{name} must list at least one value or be left out", name)
        if self.words is not None and any(not _tokens(word) for word in self.words):
            raise InvalidInput("every entry in words must contain a letter or digit", "words")
        if self.min_affected_clients is not None and self.min_affected_clients < 0:
            raise InvalidInput("min_affected_clients cannot be negative", "min_affected_clients")
        if self.labels is not None:
            # A private read-only copy, so the rule cannot change after it was checked.
            object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))

    @property
    def phrases(self) -> frozenset[tuple[str, ...]]:
        """The `words` as word tuples, the form both matching and shadowing compare."""
        return frozenset(_tokens(word) for word in self.words or ())


@dataclass(frozen=True)
class Facts:
    """What is known about an incident when it is triaged."""

    service: str | None = None
    severity: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    channel: str | None = None
    client_tier: str | None = None
    summary: str = ""
    affected_clients: int | None = None


def _rule_matches(rule: Rule, facts: Facts, summary_tokens: tuple[str, ...]) -> bool:
    for allowed, fact in (
        (rule.service, facts.service),
        (rule.severity, facts.severity),
        (rule.channel, facts.channel),
        (rule.client_tier, facts.client_tier),
    ):
        if allowed is not None and (fact is None or fact not in allowed):
            return False
    if rule.labels is not None and any(facts.labels.get(k) != v for k, v in rule.labels.items()):
        return False
    if rule.words is not None and not any(_contains(summary_tokens, p) for p in rule.phrases):
        return False
    if rule.min_affected_clients is not None:
        count = facts.affected_clients
        if count is None or count < rule.min_affected_clients:
            return False
    return True


def match(rules: Sequence[Rule], facts: Facts) -> tuple[str, int | None]:
    """Return the priority of the first rule that matches, and that rule's index.

    Returns (`DEFAULT_PRIORITY`, None), i.e. ("P3", None), when no rule matches; a policy
    normally ends with a rule without conditions so that this fallback is never reached.
    """
    summary_tokens = _tokens(facts.summary)
    for index, rule in enumerate(rules):
        if _rule_matches(rule, facts, summary_tokens):
            return rule.priority, index
    return DEFAULT_PRIORITY, None


def _implies(later: Rule, earlier: Rule) -> bool:
    """Whether every situation `later` matches is also matched by `earlier`."""
    for wide, narrow in (
        (earlier.service, later.service),
        (earlier.severity, later.severity),
        (earlier.channel, later.channel),
        (earlier.client_tier, later.client_tier),
    ):
        if wide is not None and (narrow is None or not narrow <= wide):
            return False
    if earlier.labels is not None:
        later_labels = later.labels or {}
        if any(later_labels.get(k) != v for k, v in earlier.labels.items()):
            return False
    if earlier.words is not None:
        if later.words is None:
            return False
        # Each phrase that can make `later` match must contain a phrase of `earlier`.
        wide_phrases = earlier.phrases
        if not all(any(_contains(p, w) for w in wide_phrases) for p in later.phrases):
            return False
    if earlier.min_affected_clients is None:
        return True
    return (
        later.min_affected_clients is not None
        and later.min_affected_clients >= earlier.min_affected_clients
    )


def rule_shadowed(rules: Sequence[Rule]) -> list[tuple[int, int]]:
    """Find rules that can never match because an earlier rule always matches first.

    Returns (later_index, earlier_index) pairs, one per shadowed rule, naming the first
    earlier rule that shadows it, in the order of the later rules. Only single earlier rules
    are compared: a rule covered only by several earlier rules together is not reported.
    """
    found: list[tuple[int, int]] = []
    for later_index, later in enumerate(rules):
        for earlier_index in range(later_index):
            if _implies(later, rules[earlier_index]):
                found.append((later_index, earlier_index))
                break
    return found


def _check_hours(at: datetime, days: frozenset[int], start: time, end: time) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("working-hours arithmetic needs an aware datetime")
    if not days:
        raise InvalidInput("working hours need at least one day", "days")
    if any(day not in range(7) for day in days):
        raise InvalidInput("working days are numbered 0 (Monday) to 6 (Sunday)", "days")
    if start.tzinfo is not None or end.tzinfo is not None:
        raise InvalidInput("working hours are local wall-clock times without a zone", "start")


def _windows(
    at: datetime, zone: ZoneInfo, days: frozenset[int], start: time, end: time
) -> Iterator[tuple[datetime, datetime]]:
    """Working windows near `at`, in order: from the day before (an overnight window may still
    be open) to eight days after (a week always holds a working day)."""
    today = at.astimezone(zone).date()
    for offset in range(-1, 9):
        day = today + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        # end <= start is a window across midnight (end == start: a whole day).
        end_day = day if end > start else day + timedelta(days=1)
        window_start = localtime.local_to_utc(day, start, zone)
        window_end = localtime.local_to_utc(end_day, end, zone)
        if window_end > window_start:
            yield window_start, window_end


def in_working_hours(at: datetime, zone: str, days: frozenset[int], start: time, end: time) -> bool:
    """Whether the instant `at` falls in working hours kept in time zone `zone`.

    Args:
        at: an aware instant.
        zone: IANA name, e.g. ``Asia/Kolkata``.
        days: working days, Monday = 0 … Sunday = 6 (see `localtime.WEEKDAYS`); a window
            belongs to the day it starts on.
        start, end: local wall-clock times; start inclusive, end exclusive; end <= start means
            the window runs past midnight.
    """
    _check_hours(at, days, start, end)
    instant = at.astimezone(UTC)
    return any(
        ws <= instant < we for ws, we in _windows(instant, localtime.zone(zone), days, start, end)
    )


def next_working_start(
    at: datetime, zone: str, days: frozenset[int], start: time, end: time
) -> datetime:
    """Return `at` (as UTC) if it is in working hours, else the start of the next window.

    Exact across DST changes, by the rota's rule (`localtime.local_to_utc`): a local start
    time skipped by the clocks going forward starts at the end of the gap; one repeated by the
    clocks going back starts at its first occurrence. Arguments as for `in_working_hours`; the
    result is aware UTC.
    """
    _check_hours(at, days, start, end)
    instant = at.astimezone(UTC)
    for window_start, window_end in _windows(instant, localtime.zone(zone), days, start, end):
        if window_start <= instant < window_end:
            return instant
        if window_start > instant:
            return window_start
    # Unreachable with at least one working day, as _windows spans more than a week.
    raise InvalidInput("no working window found", "days")  # pragma: no cover
