"""Rules of the code base that a reader should not have to check by hand."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "signalhub"


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_no_module_imports_a_private_module_of_a_library_or_uvicorns_protocols():
    offenders = []
    for path in SRC.rglob("*.py"):
        for name in _imports(path):
            if name.startswith("uvicorn.protocols") or any(part.startswith("_") and part != "__future__"
                                                           for part in name.split(".")):
                offenders.append(f"{path.relative_to(SRC)}: {name}")
    assert offenders == []


def test_only_the_cli_raises_system_exit():
    offenders = [
        str(path.relative_to(SRC)) for path in SRC.rglob("*.py")
        if path.name != "cli.py" and "SystemExit" in path.read_text() and "starter.py" not in path.name
    ]
    assert offenders == []
