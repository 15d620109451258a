"""The demo page in a real headless Chromium, against a real stack: the API
(serving the built page, dev sign-in on), a Temporal dev server and a worker.

Chromium is the Debian package at /usr/bin/chromium (never downloaded). When
it, Node.js or Playwright is missing the tests skip and say why; with
SIGNALHUB_REQUIRE_BROWSER=1 (CI) that is a failure instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support import ROOT, ApiProcess, free_port

CHROMIUM = Path(os.environ.get("SIGNALHUB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WEB = ROOT / "web"
CLIENT = ROOT / "clients" / "typescript"
BUILT_PAGE = ROOT / "src" / "signalhub" / "static" / "web" / "index.html"
GATED_EMBEDDER = "tests.browser.gated_embedder:create"

if TYPE_CHECKING:
    from tests.temporal.conftest import WorkerProcess


def unavailable(reason: str) -> None:
    """Skip, or fail when the run requires the browser tests (CI)."""
    if os.environ.get("SIGNALHUB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (SIGNALHUB_REQUIRE_BROWSER=1: browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        unavailable(f"Chromium not found at {CHROMIUM}: install the Debian package `chromium` to run the browser tests")
    try:
        import playwright  # noqa: F401
    except ImportError:
        unavailable("Python playwright is not installed (pip install -e '.[test]')")
    return CHROMIUM


def _newest_source() -> float:
    sources = [WEB / "index.html", WEB / "package.json", WEB / "vite.config.ts"]
    for folder in (WEB / "src", CLIENT / "src"):
        sources += [p for p in folder.rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in sources if p.exists())


@pytest.fixture(scope="session")
def built_page() -> Path:
    """The page built into the API's static folder (rebuilt when a source is newer)."""
    if BUILT_PAGE.exists() and BUILT_PAGE.stat().st_mtime >= _newest_source():
        return BUILT_PAGE
    npm = shutil.which("npm")
    if npm is None:
        unavailable("Node.js/npm not found: the demo page cannot be built")
    installed = WEB / "node_modules" / ".package-lock.json"  # npm's copy of the lock it installed
    if not installed.exists() or installed.stat().st_mtime < (WEB / "package-lock.json").stat().st_mtime:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True, timeout=600, capture_output=True)
    result = subprocess.run([npm, "run", "build"], cwd=WEB, timeout=300, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"building the page failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return BUILT_PAGE


@pytest.fixture(scope="module")
def browser(chromium: Path):
    # Module scope: Playwright's sync API keeps an event loop running in this
    # thread while it is open, which would break later tests that call asyncio.run().
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def context(browser):
    """A fresh browser profile per test (its tabs share storage and BroadcastChannel)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(20_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


@dataclass
class Stack:
    """The running services of one browser test module."""

    api: ApiProcess
    worker: WorkerProcess
    database_url: str
    data_dir: Path
    demo_user: uuid.UUID
    embed_gate: Path
    api_env: dict[str, str]
    log_dir: Path

    @property
    def url(self) -> str:
        return self.api.base

    def restart_api(self) -> None:
        """A new API process on the same port (stop the old one first)."""
        self.api = ApiProcess(self.database_url, self.log_dir, port=self.api.port, **self.api_env).start()


@pytest.fixture(scope="module")
def stack(chromium: Path, built_page: Path, database_url: str, artifacts: Path) -> Iterator[Stack]:
    from signalhub.dev.embedded import temporal_dev_server
    from tests.temporal.conftest import WorkerProcess

    data_dir = Path(tempfile.mkdtemp(prefix="signalhub-browser-"))
    demo_user = uuid.uuid4()
    (data_dir / "demo-user").write_text(f"{demo_user}\n")  # the user dev sign-in hands out
    gate = data_dir / "embed-gate"
    port = free_port()
    with temporal_dev_server(port=free_port(), log_path=artifacts / "temporal-browser.log", timeout=90) as temporal:
        worker = WorkerProcess(
            database_url, temporal.address, artifacts, "signalhub",
            SIGNALHUB_EMBEDDER=GATED_EMBEDDER, SIGNALHUB_TEST_EMBED_GATE=str(gate),
        ).start()
        api_env = {
            "SIGNALHUB_DEV_LOGIN": "true",
            "SIGNALHUB_DATA_DIR": str(data_dir),
            # The page is served by the API itself, on this port.
            "WEBSOCKET_CORS_ORIGINS": f"http://127.0.0.1:{port}",
            "TEMPORAL_ADDRESS": temporal.address,
        }
        stack = Stack(
            ApiProcess(database_url, artifacts, port=port, **api_env).start(),
            worker, database_url, data_dir, demo_user, gate, api_env, artifacts,
        )
        try:
            yield stack
        finally:
            stack.api.stop()
            worker.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
