"""`signalhub config`: every setting's effective value and where it came from.

Sources, in the order pydantic-settings applies them: the process environment
(`env`), the `.env` file in the working directory (`.env`), the built-in
default (`default`). Secrets and database passwords are masked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from .settings import Settings, variable_name

MASK = "****"


@dataclass(frozen=True)
class Entry:
    variable: str
    value: str
    source: str  # "env", ".env" or "default"


def _dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values  # pydantic-settings reads .env with python-dotenv too

    return {k.lower(): v for k, v in dotenv_values(path).items() if v is not None}


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
    environ = {k.lower(): v for k, v in os.environ.items()}
    dotenv = _dotenv(env_file)
    out = []
    for field in type(settings).model_fields:
        name = variable_name(field)
        source = "env" if name.lower() in environ else ".env" if name.lower() in dotenv else "default"
        out.append(Entry(name, shown(field, getattr(settings, field)), source))
    return out


def render(settings: Settings) -> str:
    rows = entries(settings)
    width = max(len(r.variable) for r in rows)
    return "\n".join(f"{r.variable:<{width}}  {r.source:<7}  {r.value}" for r in rows)
