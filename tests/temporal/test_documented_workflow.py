"""The complete user workflow in docs/temporal.md, copied from the page as written, runs
on a user's own worker and its signals reach the user's socket in the documented order."""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator

import pytest
from temporalio.worker import Worker

from signalhub.runtime import open_runtime
from signalhub.settings import Settings
from signalhub.temporal.activities import SignalActivities
from tests.support import ROOT, connect
from tests.temporal.helpers import no_more_signals, result_of, signals_until_final

pytestmark = pytest.mark.temporal

DOC = ROOT / "docs" / "temporal.md"


def documented_module(name: str) -> str:
    """The fenced Python block of docs/temporal.md that starts with `# myapp/<name>.py`."""
    blocks = re.findall(r"```python\n(# myapp/(\w+)\.py\n.*?)```", DOC.read_text(), re.S)
    [code] = [code for code, module in blocks if module == name and "import" in code]
    return code


@pytest.fixture(scope="module")
def myapp(tmp_path_factory) -> Iterator[None]:
    root = tmp_path_factory.mktemp("docs-example")
    package = root / "myapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("activities", "workflows"):
        (package / f"{name}.py").write_text(documented_module(name))
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        sys.path.remove(str(root))
        for module in [m for m in sys.modules if m == "myapp" or m.startswith("myapp.")]:
            del sys.modules[module]


async def test_documented_report_workflow_sends_its_signals_in_the_documented_order(
    myapp, temporal_client, api, token, user_id, database_url
):
    from myapp.activities import ReportActivities, ReportJob
    from myapp.workflows import ReportWorkflow

    ws, _ = await connect(api.ws, token(user_id))
    queue = f"my-app-{uuid.uuid4().hex[:8]}"
    async with open_runtime(Settings(database_url=database_url, _env_file=None), run_migrations=False, pool_size=2) as runtime:
        reports = ReportActivities(runtime.service)
        async with Worker(
            temporal_client,
            task_queue=queue,
            workflows=[ReportWorkflow],
            activities=[*SignalActivities(runtime.service).all(), reports.collect, reports.render],
        ):
            handle = await temporal_client.start_workflow(
                ReportWorkflow.run, ReportJob(str(user_id), ["a", "b"]), id=f"report-{uuid.uuid4()}", task_queue=queue
            )
            result = await result_of(handle)
    signals = await signals_until_final(ws)

    url = f"https://reports.example.com/{user_id}/latest.pdf"
    assert result == {"url": url}
    assert [(s["signal_type"], s["data"].get("progress", s["data"].get("status"))) for s in signals] == [
        ("status_update", "started"),
        ("progress", 0.1),
        ("progress", 0.45),  # the activity: source 1 of 2, halfway through its span (0.1, 0.8)
        ("progress", 0.8),  # source 2 of 2, within the interval: sent as the block ends
        ("progress", 0.8),  # the workflow: Rendering
        ("status_update", "published"),
        ("completion", None),
    ]
    assert [s["data"].get("message") for s in signals[2:5]] == ["Source 1 of 2", "Source 2 of 2", "Rendering 200 rows"]
    assert signals[-1]["data"] == {"result": {"url": url, "rows": 200}, "message": "Your report is ready"}
    assert await no_more_signals(ws, 0.5)
    await ws.close()
