"""Shared pytest fixtures: every test runs in its own temporary working directory."""

import pytest


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path, monkeypatch):
    # Runner writes the user's source to `main.py` in the working directory (for tracebacks).
    monkeypatch.chdir(tmp_path)
