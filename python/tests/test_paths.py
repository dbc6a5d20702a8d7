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
