"""`signalhub config`: every setting's effective value and where it came from.

Sources, in the order pydantic-settings applies them: the process environment
(`env`), the `.env` file in the working directory (`.env`), the built-in
default (`default`). Secrets and database passwords are masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from .settings import Settings, setting_sources, variable_name

MASK = "****"


@dataclass(frozen=True)
class Entry:
    variable: str
    value: str
    source: str  # "env", ".env" or "default"


def mask_url(url: str) -> str:
    """`url` with its password replaced by ****."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = f"{parts.username}:{MASK}" if parts.username else MASK
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{netloc[-1]}"))


def shown(field: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if field.endswith("_url") and isinstance(value, str):
        return mask_url(value)
    return str(value)


def entries(settings: Settings, *, env_file: Path = Path(".env")) -> list[Entry]:
    sources = setting_sources(env_file)
    return [
        Entry(variable_name(field), shown(field, getattr(settings, field)), sources[field])
        for field in type(settings).model_fields
    ]


def render(settings: Settings) -> str:
    rows = entries(settings)
    width = max(len(r.variable) for r in rows)
    return "\n".join(f"{r.variable:<{width}}  {r.source:<7}  {r.value}" for r in rows)
