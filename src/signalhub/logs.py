"""Logging set-up that never writes a token.

uvicorn's access log prints the request line, query string included, and
WebSocket tokens travel in `?token=`; debug logs of the WebSocket library print
handshake headers (`Authorization`, `Sec-WebSocket-Protocol: bearer, <JWT>`).
Two layers keep tokens out of every log line:

- `RedactTokens`, a filter on every handler, rewrites each record's message
  and arguments (so other handlers that see the record get the clean text);
- `RedactingFormatter` redacts the final formatted line, which also covers
  tracebacks and stack traces that a filter never sees.

What counts as a token: the value of any `…token=` query parameter, whatever
follows `Bearer`, and anything shaped like a JWT (`eyJ….….…`), also when the
client percent-encoded it to slip past a plain pattern match.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

REDACTED = "[redacted]"

_TOKEN_PATTERNS = (
    re.compile(r"(?i)(token=)[^&\s\"']+"),
    re.compile(r"(?i)(bearer[ ,]+)[A-Za-z0-9\-_.~+/=]{8,}"),
    # A bare JWT anywhere (three base64url parts, the first a JSON header).
    re.compile(r"()eyJ[A-Za-z0-9\-_]{5,}\.[A-Za-z0-9\-_]{5,}\.[A-Za-z0-9\-_]*"),
)


def _redact_plain(text: str) -> str:
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(rf"\1{REDACTED}", text)
    return text


def redact(text: str) -> str:
    """`text` with every token replaced by `[redacted]`.

    Servers decode `%XX` escapes before reading a query parameter, so
    `?%74oken=%65yJ…` is a token too: when decoding reveals one, the decoded,
    redacted text is returned instead of the encoded original.
    """
    clean = _redact_plain(text)
    decoded = text
    for _ in range(3):  # double-encoded input decodes in a bounded number of steps
        if "%" not in decoded:
            break
        step = unquote(decoded)
        if step == decoded:
            break
        decoded = step
        if _redact_plain(decoded) != decoded:
            return _redact_plain(decoded)
    return clean


class RedactTokens(logging.Filter):
    """Rewrites a record's message and string arguments in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            if isinstance(record.args, dict):
                record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
            else:
                args = record.args if isinstance(record.args, tuple) else (record.args,)
                record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted line, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def log_config(level: str = "INFO") -> dict:
    """A uvicorn-compatible dictConfig with the redacting filter and formatter on every handler."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactTokens}},
        "formatters": {
            "default": {
                "()": RedactingFormatter,
                "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
            },
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "": {"handlers": ["default"], "level": level},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["default"], "level": level, "propagate": False},
            "alembic": {"level": "WARNING"},
        },
    }
