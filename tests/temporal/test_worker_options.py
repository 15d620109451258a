"""WorkerOptions: the worker's own settings come from Settings (environment or .env),
not from reading the environment itself."""

from __future__ import annotations

from signalhub.settings import Settings
from signalhub.temporal.worker import WorkerOptions

WORKER_VARIABLES = (
    "SIGNALHUB_LIFECYCLE_SIGNALS", "SIGNALHUB_WORKER_IMPORTS", "SIGNALHUB_EMBEDDER",
    "SIGNALHUB_TEST_FAIL_AFTER_STORE", "LOG_LEVEL",
)


def test_worker_options_are_taken_from_the_environment_through_settings(monkeypatch):
    monkeypatch.setenv("SIGNALHUB_LIFECYCLE_SIGNALS", "true")
    monkeypatch.setenv("SIGNALHUB_WORKER_IMPORTS", "myapp.workflows,myapp.activities")
    monkeypatch.setenv("SIGNALHUB_EMBEDDER", "hashing:64")
    monkeypatch.setenv("SIGNALHUB_TEST_FAIL_AFTER_STORE", " send_progress_signal_activity, ,send_error_signal_activity ")
    monkeypatch.setenv("LOG_LEVEL", "Debug")
    options = WorkerOptions.from_settings(Settings(_env_file=None))
    assert options == WorkerOptions(
        lifecycle_signals=True,
        imports="myapp.workflows,myapp.activities",
        embedder="hashing:64",
        fail_after_store=frozenset({"send_progress_signal_activity", "send_error_signal_activity"}),
        log_level="DEBUG",
    )


def test_without_those_variables_the_worker_runs_plain(monkeypatch):
    for name in WORKER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert WorkerOptions.from_settings(Settings(_env_file=None)) == WorkerOptions()


def test_a_dotenv_file_sets_them_like_the_environment(monkeypatch, tmp_path):
    for name in WORKER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("SIGNALHUB_LIFECYCLE_SIGNALS=1\nSIGNALHUB_TEST_FAIL_AFTER_STORE=*\n")
    options = WorkerOptions.from_settings(Settings(_env_file=env_file))
    assert options.lifecycle_signals is True and options.fail_after_store == frozenset({"*"})
