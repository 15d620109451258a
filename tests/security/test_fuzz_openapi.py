"""Schemathesis against the real API's /openapi.json, as a user and as the service role.

Every documented operation gets generated requests, valid and invalid
(positive and negative modes), sent over HTTP to a real `signalhub api`.
Checks: never a 5xx; documented responses match their schema and content
type. Undocumented 401/403/404/413/422 answers are expected for hostile
input and are not failures by themselves. The one 5xx allowed is a 503 that
says which dependency is down: Temporal deliberately is (a dead address), so
document uploads are fuzzed without starting workflows anywhere.

(Operations are driven with Hypothesis directly: schemathesis' lazy pytest
loader does not run under pytest 9.)
"""

from __future__ import annotations

import uuid

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from signalhub.auth import mint_service_token, mint_user_token
from tests.support import SECRET, ApiProcess, free_port

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES_PER_OPERATION_AND_MODE = 15


@pytest.fixture(scope="module")
def fuzz_server(database_url, tmp_path_factory):
    server = ApiProcess(
        database_url, tmp_path_factory.mktemp("fuzz-openapi"), TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}"
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def operations(fuzz_server):
    schema = schemathesis.openapi.from_url(f"{fuzz_server.base}/openapi.json", timeout=10)
    found = [result.ok() for result in schema.get_all_operations()]
    # Not vacuous: the seed's endpoints are all there.
    labels = {op.label for op in found}
    assert {"GET /api/v1/inbox/signals", "POST /api/v1/inbox/signals/{signal_id}/read", "POST /ws/send-test"} <= labels
    # ... and so are the inbox state routes.
    assert {"GET /api/v1/inbox/counts", "PATCH /api/v1/inbox/signals/{signal_id}",
            "DELETE /api/v1/inbox/signals/{signal_id}", "POST /api/v1/inbox/bulk"} <= labels
    return found


def fuzz(operations, server, token: str) -> int:
    calls = 0
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case) -> None:
                nonlocal calls
                calls += 1
                response = case.call(base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
                if response.status_code == 503:
                    assert "unreachable" in response.json()["detail"] or "unavailable" in response.json()["detail"]
                    return
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                # Nothing to make invalid (no parameters, no body): positive mode covered it.
                assert mode is GenerationMode.NEGATIVE
    return calls


def test_user_requests_never_get_a_5xx_or_an_off_schema_answer(operations, fuzz_server):
    assert fuzz(operations, fuzz_server, mint_user_token(SECRET, uuid.uuid4())) >= len(operations) * 2


def test_service_requests_never_get_a_5xx_or_an_off_schema_answer(operations, fuzz_server):
    assert fuzz(operations, fuzz_server, mint_service_token(SECRET)) >= len(operations) * 2


# What the fuzzer found, pinned as plain regression tests (each was a 500).

def _post(server, path: str, content: bytes) -> httpx.Response:
    headers = {"Authorization": f"Bearer {mint_service_token(SECRET)}", "Content-Type": "application/json"}
    return httpx.post(f"{server.base}{path}", content=content, headers=headers, timeout=10)


def test_non_utf8_body_is_422_not_500(fuzz_server):
    response = _post(fuzz_server, "/ws/send-test", b"\x9da\x17\xe9-\xac\x95")
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    "field, value",
    [("workflow_id", "wf\\u0000x"), ("data", '{"status": "a\\u0000b"}'), ("data", '{"status": "ok", "k\\u0000": 1}'),
     ("data", '{"status": "\\ud8ac"}'), ("workflow_id", "\\udc00")],
)
def test_signal_text_postgresql_cannot_store_is_422_not_500(fuzz_server, field, value):
    parts = {"workflow_id": '"wf"', "data": '{"status": "ok"}'}
    parts[field] = value if field == "data" else f'"{value}"'
    body = (
        f'{{"user_id": "{uuid.uuid4()}", "signal_type": "status_update", '
        f'"workflow_id": {parts["workflow_id"]}, "data": {parts["data"]}}}'
    )
    response = _post(fuzz_server, "/api/v1/signals", body.encode())
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)  # the documented HTTPValidationError shape


@pytest.mark.parametrize("message", ["a\\u0000b", "\\ud8e1"])
def test_send_test_message_postgresql_cannot_store_is_422_not_500(fuzz_server, message):
    body = f'{{"user_id": "{uuid.uuid4()}", "message": "{message}"}}'
    response = _post(fuzz_server, "/ws/send-test", body.encode())
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)  # the documented HTTPValidationError shape


def test_nul_in_the_workflow_filter_is_422_not_500(fuzz_server):
    headers = {"Authorization": f"Bearer {mint_user_token(SECRET, uuid.uuid4())}"}
    response = httpx.get(f"{fuzz_server.base}/api/v1/inbox/signals", params={"workflow_id": "a\x00b"}, headers=headers, timeout=10)
    assert response.status_code == 422
