"""A description of the machine a run was measured on (the report's first table)."""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def _git_commit() -> str:
    """The commit the measured code is at (`+dirty` when the work tree has changes)."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src", "bench"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def describe_machine() -> dict:
    import psutil

    return {
        "git_commit": _git_commit(),
        "time_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "kernel": platform.release(),
        "versions": {p: _version(p) for p in (
            "uvicorn", "websockets", "wsproto", "fastapi", "starlette", "python-socketio",
            "python-engineio", "asyncpg", "uvloop")},
    }
