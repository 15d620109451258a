"""Logging set-up that never writes a token.

uvicorn's access log prints the request line, query string included, and
WebSocket tokens travel in `?token=`; the filter below rewrites every record
(message and arguments) so that `token=…` and `Bearer …` become `[redacted]`.
"""

from __future__ import annotations

import logging
import re

_TOKEN_PATTERNS = (
    re.compile(r"(?i)(token=)[^&\s\"']+"),
    re.compile(r"(?i)(bearer[ ,]+)[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*"),
    # A bare JWT anywhere (three base64url parts, the first a JSON header).
    re.compile(r"()eyJ[A-Za-z0-9\-_]{5,}\.[A-Za-z0-9\-_]{5,}\.[A-Za-z0-9\-_]*"),
)


def redact(text: str) -> str:
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    return text


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def log_config(level: str = "INFO") -> dict:
    """A uvicorn-compatible dictConfig with the redacting filter on every handler."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactTokens}},
        "formatters": {
            "default": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
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
