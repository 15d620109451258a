"""`signalhub emit`: one signal over HTTP through `signalhub.client`, printed as JSON."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict

from .settings import Settings


def _jsonable(value: object) -> object:
    return str(value) if isinstance(value, uuid.UUID) else value


def run_emit(
    settings: Settings,
    users: list[str],
    signal_type: str,
    workflow_id: str,
    data_json: str,
    idempotency_key: str | None,
    url: str,
    token: str | None,
) -> str:
    """Emit and return the answer as JSON text; `ValueError` (and `SignalHubError`) say what went wrong."""
    from .auth import mint_service_token
    from .client import SignalHubClient, SignalHubError

    try:
        data = json.loads(data_json)
    except (ValueError, RecursionError):
        raise ValueError("--data must be a JSON object, e.g. '{\"progress\": 0.5}'") from None
    if not isinstance(data, dict):
        raise ValueError("--data must be a JSON object, e.g. '{\"progress\": 0.5}'")
    if not users:
        raise ValueError("give at least one --user UUID")
    token = token or mint_service_token(settings.jwt_secret(), 300)
    with SignalHubClient(url, token) as hub:
        try:
            if len(users) == 1:
                result: object = asdict(hub.emit(users[0], signal_type, workflow_id, data, idempotency_key=idempotency_key))
            else:
                delivered = hub.emit_many(users, signal_type, workflow_id, data, idempotency_key=idempotency_key)
                result = {"signals": [asdict(d) for d in delivered]}
        except SignalHubError as exc:
            raise ValueError(str(exc)) from None
    return json.dumps(result, default=_jsonable)
