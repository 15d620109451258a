"""POST /api/v1/documents: upload, workflow started for the token's user, signals follow;
and the refusals (no token, wrong type, too large, empty, Temporal unreachable)."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from temporalio.client import Client

from signalhub.dev.embedded import temporal_dev_server
from signalhub.documents import SAMPLE_DOCUMENT
from tests.support import BIN, ROOT, SECRET, ApiProcess, base_env, connect, free_port
from tests.temporal.helpers import signals_until_final

pytestmark = pytest.mark.temporal


def _client(api, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=api.base, headers=headers, timeout=30)


async def test_upload_starts_a_workflow_for_the_tokens_user_and_returns_its_id(
    worker, temporal_client, api, token, user_id, uploads_dir
):
    ws, _ = await connect(api.ws, token(user_id))
    async with _client(api, token(user_id)) as http:
        response = await http.post(
            "/api/v1/documents", files={"file": ("notes.md", SAMPLE_DOCUMENT.read_bytes(), "text/markdown")}
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["workflow_id"] == f"doc-{body['document_id']}"
        assert body["file_name"] == "notes.md"

        description = await temporal_client.get_workflow_handle(body["workflow_id"]).describe()
        assert description.workflow_type == "DocumentProcessingWorkflow"
        signals = await signals_until_final(ws)
        assert {s["workflow_id"] for s in signals} == {body["workflow_id"]}
        assert signals[-1]["signal_type"] == "completion"
        assert signals[-1]["data"]["result"]["document_id"] == body["document_id"]
        assert (uploads_dir / "uploads" / body["document_id"] / "notes.md").read_bytes() == SAMPLE_DOCUMENT.read_bytes()

        listed = (await http.get("/api/v1/documents")).json()["documents"]
        assert [(d["document_id"], d["status"], d["file_name"]) for d in listed] == [
            (body["document_id"], "completed", "notes.md")
        ]
    await ws.close()


@pytest.mark.parametrize(
    "name, content, status, words",
    [
        ("virus.exe", b"MZ", 415, "unsupported file type"),
        ("empty.txt", b"", 422, "empty"),
        ("huge.txt", b"a" * (10 * 1024 * 1024 + 1), 413, "larger than"),
    ],
)
async def test_unacceptable_uploads_are_refused_with_a_clear_status(api, token, user_id, uploads_dir, name, content, status, words):
    before = set((uploads_dir / "uploads").glob("*")) if (uploads_dir / "uploads").exists() else set()
    async with _client(api, token(user_id)) as http:
        response = await http.post("/api/v1/documents", files={"file": (name, content)})
    assert response.status_code == status
    assert words in response.json()["detail"]
    after = set((uploads_dir / "uploads").glob("*")) if (uploads_dir / "uploads").exists() else set()
    assert after == before  # nothing left behind


async def test_chunked_upload_over_the_limit_is_refused_with_413(api, token, user_id):
    boundary = "signalhub-test-boundary"

    async def body():
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'.encode()
        for _ in range(11):  # 11 MiB, no Content-Length: the size is only known while reading
            yield b"a" * (1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    async with _client(api, token(user_id)) as http:
        response = await http.post(
            "/api/v1/documents", content=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert response.status_code == 413


async def test_upload_without_a_token_is_refused(api):
    async with _client(api) as http:
        response = await http.post("/api/v1/documents", files={"file": ("a.txt", b"hello")})
    assert response.status_code == 401


async def test_upload_answers_503_while_temporal_is_unreachable_and_works_once_it_is_up(
    database_url, artifacts, token, user_id, tmp_path
):
    port = free_port()
    api = ApiProcess(database_url, artifacts, TEMPORAL_ADDRESS=f"127.0.0.1:{port}", SIGNALHUB_DATA_DIR=str(tmp_path)).start()
    try:
        async with _client(api, token(user_id)) as http:
            response = await http.post("/api/v1/documents", files={"file": ("a.txt", b"hello")})
            assert response.status_code == 503
            assert f"Temporal is unreachable at 127.0.0.1:{port}" in response.json()["detail"]
            assert not any((tmp_path / "uploads").glob("*/*"))
            [listed] = (await http.get("/api/v1/documents")).json()["documents"]
            assert (listed["file_name"], listed["status"], listed["error_code"]) == ("a.txt", "failed", "TEMPORAL_UNAVAILABLE")

            # The API connects lazily: once Temporal is there, the next upload starts its workflow.
            with temporal_dev_server(port=port, log_path=artifacts / "temporal-late.log") as late:
                response = await http.post("/api/v1/documents", files={"file": ("b.txt", b"hello")})
                assert response.status_code == 202, response.text
                client = await Client.connect(late.address)
                description = await client.get_workflow_handle(response.json()["workflow_id"]).describe()
                assert description.workflow_type == "DocumentProcessingWorkflow"
    finally:
        api.stop()


def test_smoke_script_passes_against_the_running_stack(worker, api, token, user_id, tmp_path):
    env = base_env("postgresql://unused", SIGNALHUB_URL=api.base, TOKEN=token(user_id), SIGNALHUB_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, str(ROOT / "test_websocket_integration.py")],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout and "completion" in result.stdout


def test_smoke_script_fails_clearly_when_nothing_runs(tmp_path):
    env = base_env("postgresql://unused", SIGNALHUB_URL=f"http://127.0.0.1:{free_port()}", TOKEN="x.y.z",
                   SIGNALHUB_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, str(ROOT / "test_websocket_integration.py")],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "FAIL: API not reachable" in result.stderr


def test_demo_command_processes_the_sample_and_prints_its_signals(worker, api, temporal_server, user_id, tmp_path):
    env = base_env(
        "postgresql://unused", SIGNALHUB_URL=api.base, TEMPORAL_ADDRESS=temporal_server.address,
        SUPABASE_JWT_SECRET=SECRET, USER_ID=str(user_id), SIGNALHUB_DATA_DIR=str(tmp_path),
    )
    result = subprocess.run([str(BIN / "signalhub"), "demo"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("started doc-") and "sample.md" in lines[0]
    kinds = [line.split()[1] for line in lines if line.startswith("#")]
    assert kinds[0] == "status_update" and kinds[-1] == "completion" and "progress" in kinds
    assert '"status": "completed"' in lines[-1]
