"""Logging set-up that never writes a token.

uvicorn's access log prints the request line, query string included, and
WebSocket tokens travel in `?token=`; debug logs of the WebSocket library print
handshake headers (`Authorization`, `Sec-WebSocket-Protocol: bearer, <JWT>`).
Two layers keep tokens out of every log line:

- `RedactTokens`, a filter on every handler, rewrites each record's message
  and arguments (so other handlers that see the record get the clean text);
- `RedactingFormatter` redacts the final formatted line, which also covers
  tracebacks and stack traces that a filter never sees.

What counts as a token: the value of any `…token=` or `jwt=` query parameter,
whatever follows `Bearer`, and anything shaped like a JWT, also when the client
percent-encoded it to slip past a plain pattern match. "Shaped like a JWT" is
decided by shape, not by prefix: three base64url segments whose first decodes
to a JSON object (what every JWT library accepts as a header, whatever
whitespace or encoding it starts with), or three long base64url segments.

A third layer keeps clients from flooding the log: `ExpectedClientErrors`
turns the server's records of a client's own protocol errors (invalid UTF-8 in
a WebSocket frame, a malformed HTTP request) into one line without a
traceback, at most once per `EXPECTED_ERROR_INTERVAL` seconds per kind, and
says how many it held back.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
from urllib.parse import unquote

REDACTED = "[redacted]"

_TOKEN_PATTERNS = (
    re.compile(r"(?i)((?:token|jwt)=)[^&\s\"']+"),
    re.compile(r"(?i)(bearer[ ,]+)[A-Za-z0-9\-_.~+/=]{8,}"),
)
# Three dot-separated base64url segments (not part of a longer dotted name).
_B64 = r"[A-Za-z0-9\-_+]"
_THREE_SEGMENTS = re.compile(
    rf"(?<![A-Za-z0-9\-_+.])({_B64}{{2,}}={{0,2}})\.({_B64}{{2,}}={{0,2}})\.({_B64}*={{0,2}})(?!{_B64}|\.{_B64})"
)
#: Three segments this long are redacted even when the first is not a JSON header.
_LONG_SEGMENT = 16


def _decodes_to_json_object(segment: str) -> bool:
    """What PyJWT checks of a header: base64url (lenient) that `json.loads` reads as an object."""
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return isinstance(json.loads(raw), dict)
    except (binascii.Error, ValueError, RecursionError):
        return False


def _token_shaped(match: re.Match[str]) -> str:
    header, payload, signature = match.groups()
    if _decodes_to_json_object(header) or min(len(header), len(payload), len(signature)) >= _LONG_SEGMENT:
        return REDACTED
    return match.group(0)


def _redact_plain(text: str) -> str:
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(rf"\1{REDACTED}", text)
    return _THREE_SEGMENTS.sub(_token_shaped, text)


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


#: Seconds between two log lines for the same kind of expected client error.
EXPECTED_ERROR_INTERVAL = 10.0

#: Messages the server logs when a client breaks the protocol: the client's
#: fault, answered already (1007, 400, …), so they never deserve a traceback.
EXPECTED_CLIENT_ERRORS = frozenset(
    {
        "Invalid UTF-8 sequence received from client.",
        "Invalid HTTP request received.",
        "Unsupported upgrade request.",
        "connection rejected (%d %s)",  # a refused WebSocket handshake (bad version, key, origin)
    }
)


class RateLimitedLog:
    """Logs through `logger` at most once per `interval` seconds per key (thread-safe);
    the next line that passes says how many were held back meanwhile."""

    def __init__(self, logger: logging.Logger, interval: float = EXPECTED_ERROR_INTERVAL) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> int | None:
        """None to hold this line back, else how many lines of `key` were held back before it."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._held[key] = self._held.get(key, 0) + 1
                return None
            self._last[key] = now
            if len(self._last) > 1000:  # bounded: keys are message templates, but be safe
                self._last = {key: now}
            return self._held.pop(key, 0)

    def warning(self, msg: str, *args: object) -> None:
        held = self.allow(msg)
        if held is not None:
            self.logger.warning(msg + (f" ({held} more like this held back)" if held else ""), *args)


class ExpectedClientErrors(logging.Filter):
    """One line, no traceback, rate-limited, for the records in `EXPECTED_CLIENT_ERRORS`."""

    def __init__(self, interval: float = EXPECTED_ERROR_INTERVAL) -> None:
        super().__init__()
        self._limit = RateLimitedLog(logging.getLogger(__name__), interval)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg not in EXPECTED_CLIENT_ERRORS:
            return True
        held = self._limit.allow(str(record.msg))
        if held is None:
            return False
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.msg} ({type(record.exc_info[1]).__name__})"
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        record.levelno, record.levelname = logging.INFO, "INFO"
        if held:
            record.msg = f"{record.msg} ({held} more like this held back)"
        return True


def log_config(level: str = "INFO") -> dict:
    """A uvicorn-compatible dictConfig with the redacting filter and formatter on every handler."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactTokens}, "expected": {"()": ExpectedClientErrors}},
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
                "filters": ["expected", "redact"],
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
