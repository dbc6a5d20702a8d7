"""Tests for `install_imports`: which imports are found and the exact events sent.

micropip and `pyodide_js` exist only in Pyodide: fakes of both are put into
`sys.modules`. A module is made "not installed" with `sys.modules[name] = None`, which is
what makes `import name` fail, whatever the test environment holds.
"""

import asyncio
import json
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

import pyodide_worker_runner
from pyodide_worker_runner import install_imports
from pyodide_worker_runner.imports import IMPORT_NAME_TO_PACKAGE, find_imports

Event = tuple[str, Any]


class Recorder:
    """Records the events of `message_callback`, as copies."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event_type: str, data: Any) -> None:
        self.events.append((event_type, json.loads(json.dumps(data))))


class FakeMicropip(types.ModuleType):
    """`micropip` with an `install` that records its calls (`calls`) and successes.

    `errors` maps a package name to the exception its install raises; `hooks` maps a
    package name to a coroutine function awaited during its install.
    """

    def __init__(self) -> None:
        super().__init__("micropip")
        self.calls: list[str] = []
        self.installed: list[str] = []
        self.errors: dict[str, Exception] = {}
        self.hooks: dict[str, Any] = {}
        self.index_urls: list[list[str] | None] = []

    async def install(self, package: str, index_urls: list[str] | None = None) -> None:
        self.calls.append(package)
        self.index_urls.append(index_urls)
        await asyncio.sleep(0)
        if package in self.hooks:
            await self.hooks[package]()
        if package in self.errors:
            raise self.errors[package]
        self.installed.append(package)


class FakePyodideJs(types.ModuleType):
    """`pyodide_js` with a `loadPackage` that records its calls and puts in `micropip`.

    `load_error` is raised by `loadPackage`; with `load_installs` False it succeeds but
    leaves micropip unimportable (Pyodide logs failed loads without rejecting).
    """

    def __init__(self, micropip: FakeMicropip) -> None:
        super().__init__("pyodide_js")
        self.micropip = micropip
        self.loaded: list[str] = []
        self.load_error: Exception | None = None
        self.load_installs = True

    async def loadPackage(self, name: str) -> None:
        await asyncio.sleep(0)
        self.loaded.append(name)
        if self.load_error is not None:
            raise self.load_error
        if self.load_installs:
            sys.modules["micropip"] = self.micropip


class FakeJsMap:
    """Stands for a JavaScript Map proxy: only `to_py()` is used."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping

    def to_py(self) -> dict[str, str]:
        return dict(self.mapping)


@pytest.fixture(autouse=True)
def _no_pyodide(monkeypatch: pytest.MonkeyPatch) -> None:
    # Neither is importable unless a test puts a fake in.
    monkeypatch.setitem(sys.modules, "micropip", None)
    monkeypatch.setitem(sys.modules, "pyodide_js", None)


@pytest.fixture
def micropip(monkeypatch: pytest.MonkeyPatch) -> FakeMicropip:
    """An importable fake micropip."""
    fake = FakeMicropip()
    monkeypatch.setitem(sys.modules, "micropip", fake)
    return fake


@pytest.fixture
def pyodide_js(monkeypatch: pytest.MonkeyPatch) -> FakePyodideJs:
    """A fake pyodide_js that can load a fake micropip, which is not importable yet."""
    fake = FakePyodideJs(FakeMicropip())
    monkeypatch.setitem(sys.modules, "pyodide_js", fake)
    return fake


def missing(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make `names` unimportable, as if they were not installed."""
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def install(source_or_imports: str | list[str]) -> tuple[list[dict[str, str]], list[Event]]:
    """Run `install_imports`; return its result and the events it sent."""
    recorder = Recorder()
    result = asyncio.run(install_imports(source_or_imports, recorder))
    return [dict(entry) for entry in result], recorder.events


def entry(module: str, package: str | None = None) -> dict[str, str]:
    return {"module": module, "package": package or module}


MICROPIP = entry("micropip")


# -- finding imports ---------------------------------------------------------------


def test_find_imports_everywhere_in_the_tree() -> None:
    source = textwrap.dedent(
        """
        import a.b.c
        import d as e, f.g
        from h.i import j
        from k import *
        import a

        def fn():
            import in_fn

        async def coro():
            from in_coro.sub import x

        class C:
            import in_class

        try:
            import in_try
        except ImportError:
            import in_except
        else:
            import in_else
        finally:
            import in_finally

        if True:
            from in_if import y
        with open(__file__) as f:
            import in_with
        await something()
        lazy = lambda: __import__("not_an_import_statement")
        """
    )
    assert find_imports(source) == [
        "a",
        "d",
        "f",
        "h",
        "in_class",
        "in_coro",
        "in_else",
        "in_except",
        "in_finally",
        "in_fn",
        "in_if",
        "in_try",
        "in_with",
        "k",
    ]


def test_find_imports_skips_relative_imports() -> None:
    source = textwrap.dedent(
        """
        from . import sibling
        from .pkg import thing
        from ..up.more import other
        from absolute.pkg import ok
        """
    )
    assert find_imports(source) == ["absolute"]


def test_find_imports_sorts_case_sensitively() -> None:
    assert find_imports("import yaml, PIL, bs4, Crypto.Cipher") == ["Crypto", "PIL", "bs4", "yaml"]


@pytest.mark.parametrize(
    "source",
    ["import", "import a.", "from x import", "def f(:\n    import numpy", "import numpy\0"],
)
def test_find_imports_of_invalid_source_is_empty(source: str) -> None:
    assert find_imports(source) == []


def test_find_imports_of_no_imports() -> None:
    assert find_imports("") == []
    assert find_imports("print('import numpy')  # import scipy") == []


def test_syntax_error_installs_nothing_and_says_nothing(
    micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing(monkeypatch, "numpy")
    assert install("import numpy\nprint(") == ([], [])
    assert micropip.installed == []


# -- what is skipped -------------------------------------------------------------


def test_nothing_to_install_sends_no_events(micropip: FakeMicropip) -> None:
    source = "import os, json.decoder\nfrom collections import abc\n"
    source += "import pytest, pyodide_worker_runner"
    assert install(source) == ([], [])
    assert micropip.installed == []


def test_importable_modules_are_not_imported_to_check(
    micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "noisy_module.py").write_text("raise RuntimeError('imported!')\n")
    (tmp_path / "noisy_pkg").mkdir()
    (tmp_path / "noisy_pkg" / "__init__.py").write_text("raise RuntimeError('imported!')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert install("import noisy_module\nimport noisy_pkg.sub\nfrom noisy_pkg import x") == (
        [],
        [],
    )
    assert "noisy_module" not in sys.modules
    assert "noisy_pkg" not in sys.modules
    assert "noisy_pkg.sub" not in sys.modules


def test_standard_library_names_are_never_installed(
    micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pyodide leaves some of the standard library out; they fail at the import.
    missing(monkeypatch, "tkinter", "_tkinter", "turtle", "sqlite3")
    assert install("import tkinter\nimport turtle\nimport sqlite3\nimport _tkinter") == ([], [])
    assert install(["tkinter.ttk", "sqlite3"]) == ([], [])
    assert micropip.installed == []


def test_find_spec_errors_count_as_not_installed(
    micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch
) -> None:
    class BrokenFinder:
        @staticmethod
        def find_spec(name: str, path: object = None, target: object = None) -> None:
            if name == "broken_finder_pkg":
                raise ImportError("finder failed")
            return None

    monkeypatch.setattr(sys, "meta_path", [BrokenFinder(), *sys.meta_path])
    result, _ = install("import broken_finder_pkg")
    assert result == [entry("broken_finder_pkg")]
    assert micropip.installed == ["broken_finder_pkg"]


def test_list_input_is_reduced_to_top_level_names(
    micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing(monkeypatch, "scipy", "numpy")
    result, events = install(["scipy.stats", "numpy.linalg", "scipy", "os.path", "", ".rel"])
    assert result == [entry("numpy"), entry("scipy")]
    assert events[0] == ("loading_all", [entry("numpy"), entry("scipy")])
    assert micropip.installed == ["numpy", "scipy"]


def test_dotted_import_installs_the_top_level_package(
    micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing(monkeypatch, "scipy")
    result, _ = install("import scipy.stats\nfrom scipy.optimize import minimize")
    assert result == [entry("scipy")]
    assert micropip.installed == ["scipy"]


# -- package names -----------------------------------------------------------------


REQUIRED_ALIASES = {
    "PIL": "pillow",
    "bs4": "beautifulsoup4",
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "skimage": "scikit-image",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "jwt": "pyjwt",
    "Crypto": "pycryptodome",
    "serial": "pyserial",
    "attr": "attrs",
}


def test_alias_table() -> None:
    assert REQUIRED_ALIASES.items() <= IMPORT_NAME_TO_PACKAGE.items()
    for name, package in IMPORT_NAME_TO_PACKAGE.items():
        assert name.isidentifier(), name
        assert name not in sys.stdlib_module_names, name
        assert package and package != name, name


def test_aliases_without_pyodide_map(
    micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing(monkeypatch, *REQUIRED_ALIASES, "unaliased_pkg")
    result, _ = install([*REQUIRED_ALIASES, "unaliased_pkg"])
    assert result == sorted(
        [entry(name, package) for name, package in REQUIRED_ALIASES.items()]
        + [entry("unaliased_pkg")],
        key=lambda e: e["module"],
    )
    assert sorted(micropip.installed) == sorted([*REQUIRED_ALIASES.values(), "unaliased_pkg"])


@pytest.mark.parametrize("holder", ["_api", "_module"])
def test_pyodide_map_takes_precedence(
    micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch, holder: str
) -> None:
    fake = types.ModuleType("pyodide_js")
    pyodide_map = FakeJsMap({"PIL": "pillow-from-pyodide", "pyodide_only": "pyodide-only-pkg"})
    setattr(fake, holder, types.SimpleNamespace(_import_name_to_package_name=pyodide_map))
    monkeypatch.setitem(sys.modules, "pyodide_js", fake)
    missing(monkeypatch, "PIL", "pyodide_only", "bs4", "plain")
    result, _ = install("import PIL.Image, pyodide_only, bs4, plain")
    assert result == [
        entry("PIL", "pillow-from-pyodide"),
        entry("bs4", "beautifulsoup4"),
        entry("plain"),
        entry("pyodide_only", "pyodide-only-pkg"),
    ]


def test_pyodide_api_map_is_read_before_module_map(
    micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = types.ModuleType("pyodide_js")
    fake._api = types.SimpleNamespace(_import_name_to_package_name=FakeJsMap({"a_mod": "from-api"}))
    fake._module = types.SimpleNamespace(
        _import_name_to_package_name=FakeJsMap({"a_mod": "from-module"})
    )
    monkeypatch.setitem(sys.modules, "pyodide_js", fake)
    missing(monkeypatch, "a_mod")
    assert install(["a_mod"])[0] == [entry("a_mod", "from-api")]


def test_pyodide_map_absent_falls_back_to_table(
    micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pyodide_js without the internal map (another Pyodide version): the table is used.
    fake = types.ModuleType("pyodide_js")
    fake._api = types.SimpleNamespace()
    monkeypatch.setitem(sys.modules, "pyodide_js", fake)
    missing(monkeypatch, "sklearn")
    assert install(["sklearn"])[0] == [entry("sklearn", "scikit-learn")]


# -- events ------------------------------------------------------------------------


def test_events_with_micropip_present(
    micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing(monkeypatch, "numpy", "PIL")
    result, events = install("import numpy as np\nfrom PIL import Image\nimport os")
    to_install = [entry("PIL", "pillow"), entry("numpy")]
    assert result == to_install
    assert events == [
        ("loading_all", to_install),
        ("loading_one", entry("PIL", "pillow")),
        ("loading_one", entry("numpy")),
        ("loaded_one", entry("PIL", "pillow")),
        ("loaded_one", entry("numpy")),
        ("loaded_all", to_install),
    ]
    assert micropip.installed == ["pillow", "numpy"]


def test_events_with_micropip_absent(
    pyodide_js: FakePyodideJs, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing(monkeypatch, "numpy")
    result, events = install("import numpy")
    assert result == [entry("numpy")]
    assert events == [
        ("loading_all", [entry("numpy")]),
        ("loading_micropip", MICROPIP),
        ("loaded_micropip", MICROPIP),
        ("loading_one", entry("numpy")),
        ("loaded_one", entry("numpy")),
        ("loaded_all", [entry("numpy")]),
    ]
    assert pyodide_js.loaded == ["micropip"]
    assert pyodide_js.micropip.installed == ["numpy"]


def test_one_failure_does_not_stop_the_others(
    micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing(monkeypatch, "bad_pkg", "good_pkg")
    micropip.errors["bad_pkg"] = ValueError("Can't find a pure Python 3 wheel for 'bad_pkg'.")
    result, events = install("import bad_pkg\nimport good_pkg")
    assert result == [entry("bad_pkg"), entry("good_pkg")]
    assert events == [
        ("loading_all", [entry("bad_pkg"), entry("good_pkg")]),
        ("loading_one", entry("bad_pkg")),
        ("loading_one", entry("good_pkg")),
        (
            "failed_one",
            {
                **entry("bad_pkg"),
                "error": "ValueError: Can't find a pure Python 3 wheel for 'bad_pkg'.",
            },
        ),
        ("loaded_one", entry("good_pkg")),
        ("loaded_all", [entry("good_pkg")]),
    ]
    assert micropip.installed == ["good_pkg"]


def test_error_without_message(micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch) -> None:
    missing(monkeypatch, "bad_pkg")
    micropip.errors["bad_pkg"] = RuntimeError()
    _, events = install(["bad_pkg"])
    assert events[2] == ("failed_one", {**entry("bad_pkg"), "error": "RuntimeError"})
    assert events[3] == ("loaded_all", [])


def test_installs_run_concurrently(micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each install waits for the other to have started: one at a time, neither would
    # finish, and the timeout would turn both into failures.
    missing(monkeypatch, "first_pkg", "second_pkg")
    started = {"first_pkg": asyncio.Event(), "second_pkg": asyncio.Event()}

    def waiting_for(me: str, other: str) -> Any:
        async def hook() -> None:
            started[me].set()
            async with asyncio.timeout(5):
                await started[other].wait()

        return hook

    micropip.hooks["first_pkg"] = waiting_for("first_pkg", "second_pkg")
    micropip.hooks["second_pkg"] = waiting_for("second_pkg", "first_pkg")
    result, events = install(["second_pkg", "first_pkg"])
    assert result == [entry("first_pkg"), entry("second_pkg")]
    assert events == [
        ("loading_all", [entry("first_pkg"), entry("second_pkg")]),
        ("loading_one", entry("first_pkg")),
        ("loading_one", entry("second_pkg")),
        ("loaded_one", entry("second_pkg")),
        ("loaded_one", entry("first_pkg")),
        ("loaded_all", [entry("first_pkg"), entry("second_pkg")]),
    ]


def test_modules_of_one_package_share_its_install(
    micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing(monkeypatch, "attr", "attrs", "bad_pkg", "also_bad")
    pyodide_js = types.ModuleType("pyodide_js")
    pyodide_js._api = types.SimpleNamespace(
        _import_name_to_package_name=FakeJsMap({"also_bad": "bad_pkg"})
    )
    monkeypatch.setitem(sys.modules, "pyodide_js", pyodide_js)
    micropip.errors["bad_pkg"] = ValueError("no wheel")
    result, events = install("import attr, attrs, bad_pkg, also_bad")
    entries = [
        entry("also_bad", "bad_pkg"),
        entry("attr", "attrs"),
        entry("attrs"),
        entry("bad_pkg"),
    ]
    assert result == entries
    assert events == [
        ("loading_all", entries),
        ("loading_one", entry("also_bad", "bad_pkg")),
        ("loading_one", entry("attr", "attrs")),
        ("loading_one", entry("attrs")),
        ("loading_one", entry("bad_pkg")),
        ("failed_one", {**entry("also_bad", "bad_pkg"), "error": "ValueError: no wheel"}),
        ("failed_one", {**entry("bad_pkg"), "error": "ValueError: no wheel"}),
        ("loaded_one", entry("attr", "attrs")),
        ("loaded_one", entry("attrs")),
        ("loaded_all", [entry("attr", "attrs"), entry("attrs")]),
    ]
    assert micropip.installed == ["attrs"]
    assert micropip.calls == ["bad_pkg", "attrs"]


def test_micropip_load_failure(pyodide_js: FakePyodideJs, monkeypatch: pytest.MonkeyPatch) -> None:
    missing(monkeypatch, "numpy")
    pyodide_js.load_error = RuntimeError("Failed to fetch micropip")
    result, events = install("import numpy")
    assert result == [entry("numpy")]
    assert events == [
        ("loading_all", [entry("numpy")]),
        ("loading_micropip", MICROPIP),
        ("failed_one", {**MICROPIP, "error": "RuntimeError: Failed to fetch micropip"}),
    ]
    assert pyodide_js.micropip.installed == []


def test_micropip_still_missing_after_load(
    pyodide_js: FakePyodideJs, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing(monkeypatch, "numpy")
    pyodide_js.load_installs = False
    _, events = install("import numpy")
    assert events == [
        ("loading_all", [entry("numpy")]),
        ("loading_micropip", MICROPIP),
        (
            "failed_one",
            {
                **MICROPIP,
                "error": "ModuleNotFoundError: import of micropip halted; None in sys.modules",
            },
        ),
    ]


def test_without_pyodide_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    # Plain CPython: neither micropip nor pyodide_js. Nothing raises.
    missing(monkeypatch, "numpy")
    _, events = install("import numpy")
    assert events == [
        ("loading_all", [entry("numpy")]),
        ("loading_micropip", MICROPIP),
        (
            "failed_one",
            {
                **MICROPIP,
                "error": "ModuleNotFoundError: import of pyodide_js halted; None in sys.modules",
            },
        ),
    ]


def test_without_callback(micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch) -> None:
    missing(monkeypatch, "numpy", "bad_pkg")
    micropip.errors["bad_pkg"] = ValueError("no wheel")
    result = asyncio.run(install_imports(["numpy", "bad_pkg"]))
    assert result == [entry("bad_pkg"), entry("numpy")]
    assert micropip.installed == ["numpy"]


def test_cancellation_propagates(micropip: FakeMicropip, monkeypatch: pytest.MonkeyPatch) -> None:
    missing(monkeypatch, "slow_pkg")

    async def forever() -> None:
        await asyncio.Event().wait()

    micropip.hooks["slow_pkg"] = forever

    async def main() -> None:
        async with asyncio.timeout(0.05):
            await install_imports(["slow_pkg"])

    with pytest.raises(TimeoutError):
        asyncio.run(main())


def test_package_import_needs_no_pyodide() -> None:
    # Importing the package must not import micropip, pyodide_js or asyncio.
    code = (
        "import sys, pyodide_worker_runner\n"
        "print(sorted({'micropip', 'pyodide_js', 'asyncio', 'ast'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(Path(pyodide_worker_runner.__file__).parents[1])},
    )
    assert result.stdout == "[]\n"


def test_install_for_run_reports_progress_as_install_output(
    monkeypatch: pytest.MonkeyPatch, pyodide_js: FakePyodideJs
) -> None:
    from pyodide_worker_runner.imports import install_for_run

    missing(monkeypatch, "tabulate", "nope")
    fake = pyodide_js.micropip
    fake.errors["nope"] = ValueError("Can't find a pure Python 3 wheel for 'nope'")
    sent: list[tuple[str, dict[str, Any]]] = []

    def send(event_type: str, text: str) -> None:
        sent.append((event_type, json.loads(text)))

    asyncio.run(install_for_run("import tabulate, nope", send, "/pypi/simple/"))
    lines = [part["text"] for _, data in sent for part in data["parts"]]
    assert {part["type"] for _, data in sent for part in data["parts"]} == {"install"}
    assert lines[0] == "Loading micropip…\n"
    assert sorted(lines[1:3]) == ["Installing nope…\n", "Installing tabulate…\n"]
    assert sorted(lines[3:]) == [
        "Could not install nope: ValueError: Can't find a pure Python 3 wheel for 'nope'\n",
        "Installed tabulate\n",
    ]
    assert fake.index_urls == [["/pypi/simple/"], ["/pypi/simple/"]]


def test_without_an_index_micropip_uses_its_default(
    monkeypatch: pytest.MonkeyPatch, micropip: FakeMicropip
) -> None:
    missing(monkeypatch, "tabulate")
    asyncio.run(install_imports("import tabulate"))
    assert micropip.index_urls == [None]


def test_find_imports_to_install_names_missing_modules_with_their_packages() -> None:
    sys.modules["yaml"] = None  # type: ignore[assignment]
    try:
        entries = pyodide_worker_runner.find_imports_to_install(["json", "yaml", "pytest"])
    finally:
        del sys.modules["yaml"]
    assert entries == [{"module": "yaml", "package": "pyyaml"}]
