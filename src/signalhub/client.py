"""Python client for emitting signals over HTTP, for backends without Temporal.

    from signalhub.client import SignalHubClient

    with SignalHubClient("https://signals.example.com", token=SERVICE_TOKEN) as hub:
        hub.emit(user_id, "progress", "import-42", {"progress": 0.5})
        hub.emit_many(reviewer_ids, "approval_needed", "doc-7", {"question": "Publish?"})
        results = hub.batch([{"user_id": u, "signal_type": "digest", "workflow_id": "daily"} for u in users])

`AsyncSignalHubClient` has the same methods as coroutines.

Guarantees:
- every emit carries an idempotency key (yours, or a random one made once
  per call and per batch item), so a retried request never stores a signal
  twice;
- a request answered 502/503/504 or failing to connect, or timing out, is
  retried up to `retries` times with exponential back-off (a `Retry-After`
  of the server is honoured, capped at `max_delay`); any other error status
  raises `SignalHubError` at once with the server's `detail`;
- results are typed: `Emitted` (one signal), `Delivered` (one recipient of
  `emit_many`), `BatchError` (a batch item the server refused).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import httpx

RETRY_STATUSES = frozenset({502, 503, 504})


class SignalHubError(Exception):
    """The server refused the request (or kept failing); `status` and `detail` say why."""

    def __init__(self, status: int | None, detail: Any) -> None:
        super().__init__(f"signalhub answered {status}: {detail}" if status else f"signalhub unreachable: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Emitted:
    """A stored signal: `created` is False when its idempotency key was stored already."""

    id: uuid.UUID
    seq: int
    created: bool


@dataclass(frozen=True, slots=True)
class Delivered(Emitted):
    """One recipient's signal of `emit_many`."""

    user_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class BatchError:
    """A batch item the server refused (the other items are stored regardless)."""

    status: int
    detail: Any


class SignalInput(TypedDict):
    """One item of `batch`: the body of a single emit."""

    user_id: uuid.UUID | str
    signal_type: str
    workflow_id: str
    data: NotRequired[dict[str, Any]]
    idempotency_key: NotRequired[str]


def _key(idempotency_key: str | None) -> str:
    return idempotency_key if idempotency_key is not None else f"client-{uuid.uuid4().hex}"


def _body(signal_type: str, workflow_id: str, data: Mapping[str, Any] | None, idempotency_key: str | None) -> dict:
    return {"signal_type": signal_type, "workflow_id": workflow_id, "data": dict(data or {}),
            "idempotency_key": _key(idempotency_key)}


def _batch_item(item: Mapping[str, Any]) -> dict:
    out = {k: (str(v) if k == "user_id" else v) for k, v in item.items()}
    out["idempotency_key"] = _key(out.get("idempotency_key"))
    return out


def _emitted(item: Mapping[str, Any]) -> Emitted:
    return Emitted(uuid.UUID(item["id"]), int(item["seq"]), bool(item["created"]))


def _delivered(item: Mapping[str, Any]) -> Delivered:
    return Delivered(uuid.UUID(item["id"]), int(item["seq"]), bool(item["created"]), uuid.UUID(item["user_id"]))


def _batch_result(item: Mapping[str, Any]) -> Emitted | BatchError:
    if "error" in item:
        return BatchError(int(item["error"]["status"]), item["error"]["detail"])
    return _emitted(item)


def _answer(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json()
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text[:500]
    raise SignalHubError(response.status_code, detail)


class _Retry:
    """Back-off delays for one request: `backoff * 2**n`, or the server's Retry-After, capped."""

    def __init__(self, retries: int, backoff: float, max_delay: float) -> None:
        self.retries, self.backoff, self.max_delay = retries, backoff, max_delay

    def attempts(self) -> Iterator[int]:
        return iter(range(self.retries + 1))

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        retry_after = response.headers.get("retry-after", "") if response is not None else ""
        if retry_after.isascii() and retry_after.isdigit():
            return min(float(retry_after), self.max_delay)
        return min(self.backoff * 2**attempt, self.max_delay)

    def should_retry(self, attempt: int, response: httpx.Response | None) -> bool:
        return attempt < self.retries and (response is None or response.status_code in RETRY_STATUSES)


class _Base:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float,
        retries: int,
        backoff: float,
        max_delay: float,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = timeout
        self._retry = _Retry(retries, backoff, max_delay)


class SignalHubClient(_Base):
    """Blocking client (one `httpx.Client`, keep-alive); safe to share between threads."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        token: str = "",
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.2,
        max_delay: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, token, timeout=timeout, retries=retries, backoff=backoff, max_delay=max_delay)
        self._http = httpx.Client(base_url=self.base_url, headers=self._headers, timeout=timeout, transport=transport)

    def __enter__(self) -> SignalHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def emit(self, user_id: uuid.UUID | str, signal_type: str, workflow_id: str,
             data: Mapping[str, Any] | None = None, *, idempotency_key: str | None = None) -> Emitted:
        """One signal to one user."""
        body = {"user_id": str(user_id), **_body(signal_type, workflow_id, data, idempotency_key)}
        return _emitted(self._post("/api/v1/signals", body))

    def emit_many(self, user_ids: Iterable[uuid.UUID | str], signal_type: str, workflow_id: str,
                  data: Mapping[str, Any] | None = None, *, idempotency_key: str | None = None) -> list[Delivered]:
        """One signal to many users (1–1,000): a row and a seq each, in `user_ids` order."""
        body = {"user_ids": [str(u) for u in user_ids], **_body(signal_type, workflow_id, data, idempotency_key)}
        return [_delivered(item) for item in self._post("/api/v1/signals", body)["signals"]]

    def batch(self, signals: Iterable[SignalInput | Mapping[str, Any]]) -> list[Emitted | BatchError]:
        """Many emits (1–1,000 items, each with `user_id`) in one request; results in order."""
        body = {"signals": [_batch_item(item) for item in signals]}
        return [_batch_result(item) for item in self._post("/api/v1/signals/batch", body)["results"]]

    def _post(self, path: str, body: dict) -> Any:
        failure: Exception | None = None
        for attempt in self._retry.attempts():
            response = None
            try:
                response = self._http.post(path, json=body)
            except httpx.TransportError as exc:
                failure = exc
            if response is not None and not self._retry.should_retry(attempt, response):
                return _answer(response)
            if not self._retry.should_retry(attempt, response):
                break
            time.sleep(self._retry.delay(attempt, response))
        raise SignalHubError(None, f"{type(failure).__name__}: {failure}")


class AsyncSignalHubClient(_Base):
    """The asyncio twin of `SignalHubClient` (one `httpx.AsyncClient`)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        token: str = "",
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.2,
        max_delay: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, token, timeout=timeout, retries=retries, backoff=backoff, max_delay=max_delay)
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=self._headers, timeout=timeout, transport=transport)

    async def __aenter__(self) -> AsyncSignalHubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def emit(self, user_id: uuid.UUID | str, signal_type: str, workflow_id: str,
                   data: Mapping[str, Any] | None = None, *, idempotency_key: str | None = None) -> Emitted:
        """One signal to one user."""
        body = {"user_id": str(user_id), **_body(signal_type, workflow_id, data, idempotency_key)}
        return _emitted(await self._post("/api/v1/signals", body))

    async def emit_many(self, user_ids: Iterable[uuid.UUID | str], signal_type: str, workflow_id: str,
                        data: Mapping[str, Any] | None = None, *, idempotency_key: str | None = None) -> list[Delivered]:
        """One signal to many users (1–1,000): a row and a seq each, in `user_ids` order."""
        body = {"user_ids": [str(u) for u in user_ids], **_body(signal_type, workflow_id, data, idempotency_key)}
        return [_delivered(item) for item in (await self._post("/api/v1/signals", body))["signals"]]

    async def batch(self, signals: Iterable[SignalInput | Mapping[str, Any]]) -> list[Emitted | BatchError]:
        """Many emits (1–1,000 items, each with `user_id`) in one request; results in order."""
        body = {"signals": [_batch_item(item) for item in signals]}
        return [_batch_result(item) for item in (await self._post("/api/v1/signals/batch", body))["results"]]

    async def _post(self, path: str, body: dict) -> Any:
        failure: Exception | None = None
        for attempt in self._retry.attempts():
            response = None
            try:
                response = await self._http.post(path, json=body)
            except httpx.TransportError as exc:
                failure = exc
            if response is not None and not self._retry.should_retry(attempt, response):
                return _answer(response)
            if not self._retry.should_retry(attempt, response):
                break
            await asyncio.sleep(self._retry.delay(attempt, response))
        raise SignalHubError(None, f"{type(failure).__name__}: {failure}")
