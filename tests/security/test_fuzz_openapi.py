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
