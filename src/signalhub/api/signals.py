"""Emitting signals over HTTP (service role): one, one to many users, or a batch.

- `POST /api/v1/signals` with `user_id`: one signal, answered
  `{"id","seq","created"}` (201; 200 when the idempotency key was stored already);
- the same with `user_ids` (1–1,000): one row and one seq per user, written by
  one statement, answered `{"signals":[{"user_id","id","seq","created"},…]}`
  in `user_ids` order (201; 200 when nothing new was stored);
- `POST /api/v1/signals/batch` `{"signals":[<emit body>,…]}` (1–1,000 items,
  each with `user_id`): answered 200 `{"results":[…]}` in order, each
  `{"id","seq","created"}` or `{"error":{"status":422,"detail":[…]}}`; the
  valid items are written by one statement, a bad item never fails them.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field, ValidationError, model_validator

from ..signals import MAX_IDEMPOTENCY_KEY_LENGTH, MAX_WORKFLOW_ID_LENGTH, SignalError
from ..wire import SIGNAL_TYPE_PATTERN, dumps
from .deps import Service, ServiceRole

router = APIRouter(prefix="/api/v1/signals", tags=["signals"])

#: Most recipients of one emit and most items of one batch.
MAX_RECIPIENTS = 1000
MAX_BATCH_ITEMS = 1000


class SignalFields(BaseModel):
    signal_type: str = Field(
        pattern=SIGNAL_TYPE_PATTERN,
        description="One of status_update, progress, completion, error (data validated), "
        "or a type of your own matching the pattern (data: any object)",
        examples=["progress", "approval_needed"],
    )
    workflow_id: str = Field(min_length=1, max_length=MAX_WORKFLOW_ID_LENGTH)
    data: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
        description="A retry with the same key (per recipient) stores nothing new and returns the stored signal",
    )


class EmitRequest(SignalFields):
    user_id: uuid.UUID | None = Field(default=None, description="The recipient (give this or user_ids)")
    user_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=MAX_RECIPIENTS, description="Many recipients: a signal each"
    )

    @model_validator(mode="after")
    def _one_audience(self) -> EmitRequest:
        if (self.user_id is None) == (self.user_ids is None):
            raise ValueError("give exactly one of user_id or user_ids")
        return self


class BatchItem(SignalFields):
    user_id: uuid.UUID = Field(description="The recipient (batch items take one user each)")

    @model_validator(mode="before")
    @classmethod
    def _one_user(cls, value: Any) -> Any:
        if isinstance(value, dict) and "user_ids" in value:
            raise ValueError("batch items take user_id; send one signal to many users with POST /api/v1/signals")
        return value


class BatchRequest(BaseModel):
    signals: list[Any] = Field(
        min_length=1, max_length=MAX_BATCH_ITEMS,
        description="Emit bodies (each with user_id); each is validated on its own",
    )


class EmitResponse(BaseModel):
    id: uuid.UUID
    seq: int
    created: bool


class RecipientResult(EmitResponse):
    user_id: uuid.UUID


class ManyEmitResponse(BaseModel):
    signals: list[RecipientResult]


class ItemError(BaseModel):
    status: int
    detail: list[dict[str, Any]]


class BatchItemError(BaseModel):
    error: ItemError


class BatchResponse(BaseModel):
    results: list[EmitResponse | BatchItemError]


def _refusal(message: str, loc: tuple[str | int, ...] = ("body",)) -> list[dict[str, Any]]:
    """The documented 422 `detail` shape (FastAPI's HTTPValidationError)."""
    return [{"loc": list(loc), "msg": message, "type": "value_error"}]


@router.post(
    "",
    response_model=EmitResponse | ManyEmitResponse,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "Nothing new stored: every signal's idempotency key was stored already"}},
)
async def emit_signal(body: EmitRequest, response: Response, _: ServiceRole, service: Service) -> Any:
    """Store and deliver a signal to one user or to many (service role)."""
    fields = (body.signal_type, body.workflow_id, body.data)
    try:
        if body.user_ids is not None:
            results = await service.emit_many(body.user_ids, *fields, idempotency_key=body.idempotency_key)
        else:
            assert body.user_id is not None  # the model requires exactly one of user_id / user_ids
            results = [await service.emit(body.user_id, *fields, idempotency_key=body.idempotency_key)]
    except SignalError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail=_refusal(str(exc))) from None
    code = status.HTTP_201_CREATED if any(r.created for r in results) else status.HTTP_200_OK
    if body.user_ids is None:
        [result] = results
        response.status_code = code
        return {"id": result.signal.id, "seq": result.signal.seq, "created": result.created}
    # Built directly: validating and encoding up to 1,000 results through the response model costs more than the insert.
    return _json(code, {"signals": [
        {"user_id": str(r.signal.user_id), "id": str(r.signal.id), "seq": r.signal.seq, "created": r.created}
        for r in results
    ]})


@router.post("/batch", response_model=BatchResponse)
async def emit_batch(body: BatchRequest, _: ServiceRole, service: Service) -> Response:
    """Store and deliver many signals at once; results in order, a bad item fails only itself (service role)."""
    results: list[dict[str, Any] | None] = [None] * len(body.signals)
    valid, positions = [], []
    for index, raw in enumerate(body.signals):
        loc: tuple[str | int, ...] = ("body", "signals", index)
        try:
            item = BatchItem.model_validate(raw)
            valid.append(service.build(item.user_id, item.signal_type, item.workflow_id, item.data,
                                       idempotency_key=item.idempotency_key))
            positions.append(index)
        except ValidationError as exc:
            detail = [
                {"loc": [*loc, *error["loc"]], "msg": error["msg"], "type": error["type"]}
                for error in exc.errors(include_url=False, include_input=False)
            ]
            results[index] = {"error": {"status": 422, "detail": detail}}
        except SignalError as exc:
            results[index] = {"error": {"status": 422, "detail": _refusal(str(exc), loc)}}
    for index, result in zip(positions, await service.emit_built(valid), strict=True):
        results[index] = {"id": str(result.signal.id), "seq": result.signal.seq, "created": result.created}
    return _json(status.HTTP_200_OK, {"results": results})


def _json(code: int, body: dict) -> Response:
    """The answer as is (FastAPI skips the response model for a Response; the model still documents it)."""
    return Response(dumps(body), status_code=code, media_type="application/json")
