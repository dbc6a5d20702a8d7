"""Find the modules a program imports that are missing, and install them with micropip.

`install_imports(source_or_imports, message_callback)` runs before a program: it finds the
top-level names the source imports (with `ast`, anywhere in the tree, as Pyodide's
`find_imports` does), keeps those that cannot be imported yet, maps each import name to
the distribution that provides it, and installs them all at the same time with
`micropip.install`, loading micropip first if needed.

Progress goes to `message_callback(event_type, data)`, if given, in this order:

- `"loading_all"`, the list of entries to install, `[{"module": ..., "package": ...}, ...]`
  (nothing at all is sent when there is nothing to install);
- only if micropip is not importable yet: `"loading_micropip"` then `"loaded_micropip"`,
  both with `{"module": "micropip", "package": "micropip"}`;
- for each entry, concurrently: `"loading_one"` with the entry, then `"loaded_one"` with
  the entry once it is installed (entries naming the same package share one install);
- `"loaded_all"`, the list of the entries that were installed (in the order of
  `"loading_all"`).

All but one of these are the events of pyodide-worker-runner's `install_imports`. The one
we add is `"failed_one"`, `{"module": ..., "package": ..., "error": "<Type>: <message>"}`,
sent instead of `"loaded_one"` when an install fails. Failures are never raised: the
program runs anyway and fails, with the usual traceback, at the import. If micropip itself
cannot be loaded, `"failed_one"` is sent for micropip and nothing else follows (no
`"loaded_all"`).

Unlike the original this does not import modules to find out whether they are
installed (`importlib.util.find_spec` runs nothing), installs top-level names only (so
`import scipy.stats` installs `scipy`, never "scipy.stats"), leaves standard library
names alone even when Pyodide leaves the module out (so `import tkinter` does not install
some same-named package from PyPI), and installs the packages concurrently.

`micropip` and `pyodide_js` exist only in Pyodide, so they are imported inside the
functions that use them: the module imports and is tested in plain CPython. `ast`,
`asyncio` and `importlib.util` are imported where they are used too, because importing
the package is on the path to the first output in the browser.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypedDict

__all__ = ["IMPORT_NAME_TO_PACKAGE", "InstallEntry", "find_imports", "install_imports"]


class InstallEntry(TypedDict):
    """A missing module and the distribution to install for it."""

    module: str
    package: str


MessageCallback = Callable[[str, Any], Any]
"""`message_callback(event_type, data)`; its return value is ignored."""

IMPORT_NAME_TO_PACKAGE: dict[str, str] = {
    "Bio": "biopython",
    "Crypto": "pycryptodome",
    "Cryptodome": "pycryptodomex",
    "OpenSSL": "pyopenssl",
    "PIL": "pillow",
    "attr": "attrs",
    "bs4": "beautifulsoup4",
    "cv2": "opencv-python",
    "dateutil": "python-dateutil",
    "dns": "dnspython",
    "docx": "python-docx",
    "dotenv": "python-dotenv",
    "jwt": "pyjwt",
    "mpl_toolkits": "matplotlib",
    "nacl": "pynacl",
    "pkg_resources": "setuptools",
    "pptx": "python-pptx",
    "ruamel": "ruamel.yaml",
    "serial": "pyserial",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "slugify": "python-slugify",
    "socks": "pysocks",
    "websocket": "websocket-client",
    "yaml": "pyyaml",
}
"""Top-level import names whose distribution (on PyPI or in Pyodide) has another name.

Consulted after the map Pyodide builds from its lock file (`_import_name_to_package_name`),
which wins, so this only matters for packages Pyodide does not ship, or when that map is
not available. A name in neither is installed under its own name. Names that several
distributions provide (such as `google`) are left out on purpose.
"""

_MICROPIP: InstallEntry = {"module": "micropip", "package": "micropip"}


def find_imports(source: str) -> list[str]:
    """Return the sorted top-level names that `source` imports, anywhere in its code.

    `import a.b.c` gives `a` and `from x.y import z` gives `x`, including inside
    functions, classes and `try` blocks. Relative imports (`from . import z`,
    `from .foo import z`) are the program's own modules and are skipped. Source that does
    not compile gives `[]`: running it reports the error.
    """
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        # ValueError: null bytes in the source (a SyntaxError from Python 3.12 on).
        # RecursionError: nesting too deep for the parser.
        return []
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return _top_level_names(names)


async def install_imports(
    source_code_or_imports: str | list[str],
    message_callback: MessageCallback | None = None,
    *,
    index_urls: list[str] | None = None,
) -> list[InstallEntry]:
    """Install what the source (or the list of module names) imports but is missing.

    A str is source code (see `find_imports`); a list holds module names, of which only
    the top-level part counts (`"scipy.stats"` means `scipy`). Returns the entries that
    were to be installed, whether or not their install succeeded; `[]` when nothing was
    missing. Events and failures are described in the module docstring. `index_urls`,
    if given, are the package indexes micropip uses instead of its default (PyPI).
    """
    if isinstance(source_code_or_imports, str):
        imports = find_imports(source_code_or_imports)
    else:
        imports = _top_level_names(source_code_or_imports)
    to_install = _entries_to_install(imports)
    if not to_install:
        return []

    def emit(event_type: str, data: Any) -> None:
        if message_callback is not None:
            message_callback(event_type, data)

    emit("loading_all", [dict(entry) for entry in to_install])
    micropip = await _load_micropip(emit)
    if micropip is None:
        return to_install

    import asyncio

    # Modules of the same distribution (`attr` and `attrs`, say) share one install.
    installs: dict[str, asyncio.Future[Any]] = {}

    async def install_one(entry: InstallEntry) -> bool:
        emit("loading_one", dict(entry))
        package = entry["package"]
        if package not in installs:
            if index_urls is None:
                install = micropip.install(package)
            else:
                install = micropip.install(package, index_urls=index_urls)
            installs[package] = asyncio.ensure_future(install)
        try:
            await installs[package]
        except Exception as e:
            emit("failed_one", {**entry, "error": _describe(e)})
            return False
        emit("loaded_one", dict(entry))
        return True

    results = await asyncio.gather(*(install_one(entry) for entry in to_install))
    emit("loaded_all", [dict(entry) for entry, ok in zip(to_install, results, strict=True) if ok])
    return to_install


def _top_level_names(names: Iterable[str]) -> list[str]:
    """The sorted, distinct top-level parts of `names`; empty parts are dropped."""
    return sorted({name.partition(".")[0] for name in names} - {""})


def _is_importable(name: str) -> bool:
    """Whether the top-level module `name` can be imported, without importing it."""
    if sys.modules.get(name) is not None:
        return True
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def find_imports_to_install(imports: list[str]) -> list[InstallEntry]:
    """The entries `install_imports` would install for `imports`, as upstream names it.

    Unlike upstream it does not import anything to find out (no side effects), and it skips
    the standard library.
    """
    return _entries_to_install(imports)


def _entries_to_install(imports: list[str]) -> list[InstallEntry]:
    missing = [
        name for name in imports if name not in sys.stdlib_module_names and not _is_importable(name)
    ]
    if not missing:
        return []
    pyodide_map = _pyodide_package_names()
    return [
        {
            "module": name,
            "package": pyodide_map.get(name) or IMPORT_NAME_TO_PACKAGE.get(name, name),
        }
        for name in missing
    ]


def _pyodide_package_names() -> Mapping[str, str]:
    """Pyodide's own map of import names to its package names; empty if unavailable.

    Pyodide keeps it on its internal API object (`pyodide_js._api`, or `_module` in some
    versions) as a JavaScript Map, which `to_py()` turns into a dict.
    """
    try:
        import pyodide_js
    except ImportError:
        return {}
    for holder in ("_api", "_module"):
        try:
            mapping = getattr(pyodide_js, holder)._import_name_to_package_name
            if hasattr(mapping, "to_py"):
                mapping = mapping.to_py()
        except Exception:
            continue
        if isinstance(mapping, Mapping):
            return mapping
    return {}


async def _load_micropip(emit: Callable[[str, Any], None]) -> Any:
    """Return the micropip module, loading it with Pyodide first if it is missing.

    On failure, send `"failed_one"` for micropip and return None.
    """
    try:
        import micropip
    except ImportError:
        pass
    else:
        return micropip
    emit("loading_micropip", dict(_MICROPIP))
    try:
        import pyodide_js

        await pyodide_js.loadPackage("micropip")
        importlib.invalidate_caches()
        import micropip
    except Exception as e:
        emit("failed_one", {**_MICROPIP, "error": _describe(e)})
        return None
    emit("loaded_micropip", dict(_MICROPIP))
    return micropip


def _describe(e: BaseException) -> str:
    """`"<Type>: <message>"`, or just the type when the message is empty."""
    message = str(e)
    return f"{type(e).__name__}: {message}" if message else type(e).__name__


INSTALL_MESSAGES: dict[str, str] = {
    "loading_micropip": "Loading micropip…\n",
    "loading_one": "Installing {package}…\n",
    "loaded_one": "Installed {package}\n",
    "failed_one": "Could not install {package}: {error}\n",
}
"""The line shown for each install event (`install_for_run`); other events show nothing."""


async def install_for_run(
    source: str, send: Callable[[str, str], object], index_url: str | None = None
) -> None:
    """Install what `source` imports before it runs, reporting progress as output.

    The worker calls this (and awaits it) before `run_code` when the element has
    `install-imports`. Each event of `install_imports` with a line in `INSTALL_MESSAGES`
    becomes an output part of type "install" through `send("output", json_text)`, the same
    channel as `run_code`'s output. `index_url` is a package index to use instead of PyPI.
    """
    import json

    def report(event_type: str, data: Any) -> None:
        line = INSTALL_MESSAGES.get(event_type)
        if line is None or not isinstance(data, dict):
            return
        text = line.format(**data)
        send(
            "output", json.dumps({"parts": [{"type": "install", "text": text}]}, ensure_ascii=False)
        )

    await install_imports(source, report, index_urls=[index_url] if index_url else None)
