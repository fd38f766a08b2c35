"""uvicorn's logging configuration, with the secrets that travel in URLs (integration keys,
action-link tokens, iCalendar feed tokens) replaced by `***` in the access log."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

# Path segments that are credentials: /integrations/{key} (but not the Slack and Twilio routes,
# whose names are fixed), the token of /integrations/twilio/voice/{token} and /actions/{token}.
_SECRET_SEGMENT = re.compile(
    r"^(/integrations/twilio/voice/|/actions/|/integrations/(?!slack/|twilio/))[^/?]+"
)
_SECRET_QUERY = re.compile(r"([?&]token=)[^&]*")


def redact(path: str) -> str:
    """`path` (with its query string) with every secret replaced by `***`."""
    return _SECRET_QUERY.sub(r"\1***", _SECRET_SEGMENT.sub(r"\1***", path))


class RedactSecrets(logging.Filter):
    """For uvicorn's access records, whose arguments are (client, method, path, version,
    status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            record.args = (client, method, redact(str(path)), version, status)
        return True


def logging_config() -> dict[str, Any]:
    """uvicorn's default logging configuration, with `RedactSecrets` on the access log."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_secrets": {"()": RedactSecrets}}
    config["handlers"]["access"]["filters"] = ["redact_secrets"]
    return config
