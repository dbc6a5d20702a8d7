"""Tests for `add_to_path`: the folder of the author's archive becomes importable."""

import sys
from pathlib import Path

import pytest

from pyodide_worker_runner.runner import add_to_path


def test_a_module_written_after_start_is_importable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "archived_pkg").mkdir()
    (tmp_path / "archived_pkg" / "__init__.py").write_text("VALUE = 42\n")
    add_to_path(str(tmp_path))
    add_to_path(str(tmp_path))
    assert sys.path[0] == str(tmp_path)
    assert sys.path.count(str(tmp_path)) == 1
    import archived_pkg  # type: ignore[import-not-found]

    assert archived_pkg.VALUE == 42
    monkeypatch.delitem(sys.modules, "archived_pkg")


def _run_entry(module: str) -> list[tuple[str, dict]]:
    import json

    from pyodide_worker_runner import run_code

    events: list[tuple[str, dict]] = []

    def send(event_type: str, data: str) -> None:
        events.append((event_type, json.loads(data)))

    run_code("print('inline code is ignored')", send, entry=module)
    return events


def test_entry_runs_a_module_as_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    package = tmp_path / "entrypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text("WHO = 'helper'\n")
    (package / "main.py").write_text(
        "from .helper import WHO\nprint(__name__, WHO)\n\n\ndef fail():\n    1 / 0\n\n\nfail()\n"
    )
    add_to_path(str(tmp_path))
    events = _run_entry("entrypkg.main")
    main_file = str(package / "main.py")
    texts = [part for _, data in events for part in data["parts"]]
    assert texts[0] == {"type": "stdout", "text": "__main__ helper\n"}
    traceback = "".join(p["text"] for p in texts if p["type"] == "traceback")
    assert traceback.startswith(
        f'Traceback (most recent call last):\n  File "{main_file}", line 9, in <module>\n'
    ), traceback
    assert "runpy" not in traceback
    assert traceback.endswith("ZeroDivisionError: division by zero\n")
    for name in ("entrypkg", "entrypkg.helper", "entrypkg.main"):
        sys.modules.pop(name, None)


def test_a_missing_entry_is_one_clear_line() -> None:
    assert _run_entry("no_such_module_here.main") == [
        (
            "output",
            {
                "parts": [
                    {
                        "type": "traceback",
                        "text": "ModuleNotFoundError: No module named 'no_such_module_here.main'\n",
                    }
                ]
            },
        )
    ]
